"""LPIPS (Zhang et al. 2018) from the `lpips` package, as a streaming metric averaged per image."""

import warnings

import lpips
import torch
from torch import Tensor
from torchmetrics import Metric

from tradeoffs.errors import ConfigError
from tradeoffs.metrics.weights import ALEXNET, cached_weights, require_weights


class LPIPS(Metric):
    """Mean LPIPS-Alex distance between restorations and clean images in [0, 1] (grey images are replicated)."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        require_weights(ALEXNET, "metrics.lpips")
        self.net = lpips.LPIPS(net="alex", verbose=False).eval().requires_grad_(False)
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.shape[1] == 1:
            preds, target = preds.expand(-1, 3, -1, -1), target.expand(-1, 3, -1, -1)
        distances = self.net(preds.clamp(0, 1) * 2 - 1, target * 2 - 1)
        self.total, self.count = self.total + distances.sum(), self.count + distances.numel()

    def compute(self) -> Tensor:
        return self.total / self.count


MIN_SIZE = 32  # AlexNet's strides and pools leave no feature map on smaller images


def build_lpips(mode: str | bool, image_size: int) -> LPIPS | None:
    """`true`: LPIPS, or an error naming the missing weights or the too-small images; `auto`: LPIPS when it can run,
    else None with one warning saying why; `false`: None."""
    if mode is False or mode == "false":
        return None
    if mode not in (True, "true", "auto"):
        raise ConfigError(f"metrics.lpips must be auto, true or false, got {mode!r}")
    problem = None
    if image_size < MIN_SIZE:
        problem = f"LPIPS needs images of at least {MIN_SIZE} px, the validation images have {image_size} px"
    elif not cached_weights(ALEXNET[0]).is_file():
        problem = f"AlexNet weights {cached_weights(ALEXNET[0])} not found"
    if problem is None or mode in (True, "true"):
        if problem and image_size < MIN_SIZE:
            raise ConfigError(f"metrics.lpips=true: {problem}")
        return LPIPS()
    warnings.warn(f"LPIPS skipped: {problem}", stacklevel=2)
    return None
