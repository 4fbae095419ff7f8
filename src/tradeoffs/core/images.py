"""Image tensors as the pretrained networks and viewers expect them."""

from torch import Tensor


def as_rgb(images: Tensor) -> Tensor:
    """(B, 1, H, W) grey images replicated to (B, 3, H, W), a view; any other channel count unchanged."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
