"""Non-overlapping image patches: the feature space of the uncertainty bounds and of `metrics.features=patches`."""

import torch.nn.functional as F
from torch import Tensor

from tradeoffs.core.errors import EstimatorInputError


def image_patches(images: Tensor, patch_size: int) -> Tensor:
    """Non-overlapping c×p×p patches (stride p) of images (N, C, H, W), flattened: (N·P, C·p·p)."""
    _, c, h, w = images.shape
    if patch_size > min(h, w):
        raise EstimatorInputError(f"metrics.patch_size={patch_size} is larger than the {h}x{w} images")
    patches = F.unfold(images, patch_size, stride=patch_size)  # (N, C·p·p, P)
    return patches.transpose(1, 2).reshape(-1, c * patch_size * patch_size)
