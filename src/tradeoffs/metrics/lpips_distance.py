"""LPIPS (Zhang et al. 2018) through torchmetrics' `LearnedPerceptualImagePatchSimilarity` (AlexNet), averaged per
image; the AlexNet weights are read from the hub cache, never downloaded at run time."""

import torch
from torch import Tensor, nn
from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.images import as_rgb
from tradeoffs.metrics.distortion import NEEDS_K, check_estimate, restoration_of
from tradeoffs.metrics.measure import Batch, Key, Measure, Spec
from tradeoffs.metrics.weights import ALEXNET, cached_weights, require_weights

MIN_SIZE = 32  # AlexNet's strides and pools leave no feature map on smaller images
MODES = (True, "true", "auto", False, "false")


def build_lpips(mode: str | bool, image_size: int, key: str = "metrics.measures.lpips.mode") -> nn.Module | None:
    """`true`: the LPIPS metric, or ConfigError naming the missing weights or the too-small images; `auto`: the
    metric when it can run, else None; `false`: None."""
    if mode not in MODES:
        raise ConfigError(f"{key} must be auto, true or false, got {mode!r}")
    if mode in (False, "false") or lpips_problem(image_size) is not None and mode == "auto":
        return None
    if image_size < MIN_SIZE:
        raise ConfigError(f"{key}=true: {lpips_problem(image_size)}")
    require_weights(ALEXNET, key)
    return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).requires_grad_(False)


def lpips_problem(image_size: int) -> str | None:
    """Why LPIPS cannot run here, or None."""
    if image_size < MIN_SIZE:
        return f"LPIPS needs images of at least {MIN_SIZE} px, the images have {image_size} px"
    if not cached_weights(ALEXNET[0]).is_file():
        return f"AlexNet weights {cached_weights(ALEXNET[0])} not found (no download at run time)"
    return None


class LPIPSDistance(nn.Module, Measure):
    """`lpips` (first sample, `on: first`) or `lpips_mean_k` (mean of K, `on: mean_k`); grey images are replicated
    to RGB. `mode`: auto (skipped, with the reason, when the weights are missing or the images too small) | true |
    false."""

    def __init__(self, estimate: str = "first", mode: str | bool = "auto") -> None:
        super().__init__()
        check_estimate(estimate, "LPIPSDistance")
        self.estimate_name, self.mode = estimate, mode
        self.keys = {"lpips" if estimate == "first" else "lpips_mean_k": Key("distortion")}

    def prepare(self, spec: Spec) -> str | None:
        if self.mode in (False, "false"):
            return ""  # switched off: skipped without a warning
        if self.estimate_name == "mean_k" and spec.num_samples < 2:
            return NEEDS_K
        self.metric = build_lpips(self.mode, min(spec.height, spec.width))
        return lpips_problem(min(spec.height, spec.width)) if self.metric is None else None

    def update(self, batch: Batch) -> None:
        preds, target = as_rgb(restoration_of(batch, self.estimate_name).clamp(0, 1)), as_rgb(batch.x.clamp(0, 1))
        self.metric.update(preds.float(), target.float())

    def compute(self) -> dict[str, Tensor]:
        return {name: self.metric.compute().to(torch.float64) for name in self.keys}
