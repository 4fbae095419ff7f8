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


def build_lpips(mode: str | bool) -> LPIPS | None:
    """`true`: LPIPS or an error naming the missing weights; `auto`: LPIPS if its weights are cached, else None
    with one warning; `false`: None."""
    if mode is False or mode == "false":
        return None
    if mode is True or mode == "true":
        return LPIPS()
    if mode != "auto":
        raise ConfigError(f"metrics.lpips must be auto, true or false, got {mode!r}")
    if not cached_weights(ALEXNET[0]).is_file():
        warnings.warn(f"LPIPS skipped: AlexNet weights {cached_weights(ALEXNET[0])} not found", stacklevel=2)
        return None
    return LPIPS()
