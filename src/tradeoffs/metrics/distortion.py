"""Full-reference distortion: MSE, PSNR and SSIM (torchmetrics), averaged per image, data range 1."""

import warnings

from torch import Tensor, nn
from torchmetrics import MeanSquaredError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from tradeoffs.core.errors import ConfigError
from tradeoffs.metrics.engine import Batch, Key, Measure, Spec

SSIM_KERNEL = 11
NEEDS_K = "metrics.num_samples=1 (they need K >= 2 samples per input)"
ESTIMATES = {"first": "_subset", "mean_k": "_mean_k"}  # which restoration of each input is compared with x


def distortion_metrics(prefix: str, image_size: int, postfix: str = "") -> MetricCollection:
    """MSE, PSNR (per image, then averaged) and SSIM (Gaussian 11×11 window; skipped on smaller images)."""
    metrics = {"mse": MeanSquaredError(), "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))}
    if image_size >= SSIM_KERNEL:
        metrics["ssim"] = StructuralSimilarityIndexMeasure(data_range=1.0)
    else:
        warnings.warn(
            f"SSIM needs images of at least {SSIM_KERNEL} px; skipping it on {image_size} px images", stacklevel=2
        )
    return MetricCollection(metrics, prefix=prefix, postfix=postfix or None)


def restoration_of(batch: Batch, estimate: str) -> Tensor:
    return batch.first if estimate == "first" else batch.mean_k


def check_estimate(estimate: str, measure: str) -> str:
    if estimate not in ESTIMATES:
        raise ConfigError(f"metrics.measures: {measure}(estimate={estimate!r}) must be one of {', '.join(ESTIMATES)}")
    return ESTIMATES[estimate]


class Distortion(nn.Module, Measure):
    """`mse`, `psnr`, `ssim` of the first sample of each input (`estimate: first`, keys `*_subset`: the images and
    samples perception sees) or of the mean of its K samples (`estimate: mean_k`, keys `*_mean_k`, K ≥ 2)."""

    def __init__(self, estimate: str = "first") -> None:
        super().__init__()
        self.estimate_name, self.suffix = estimate, check_estimate(estimate, "Distortion")
        self.keys = {
            f"{n}{self.suffix}": Key("distortion", higher_is_better=n != "mse") for n in ("mse", "psnr", "ssim")
        }

    def prepare(self, spec: Spec) -> str | None:
        if self.estimate_name == "mean_k" and spec.num_samples < 2:
            return NEEDS_K
        self.metrics = distortion_metrics("", min(spec.height, spec.width), postfix=self.suffix)
        self.keys = {k: v for k, v in self.keys.items() if k.removesuffix(self.suffix) in self.metrics}
        return None

    def update(self, batch: Batch) -> None:
        self.metrics.update(restoration_of(batch, self.estimate_name), batch.x)

    def compute(self) -> dict[str, Tensor]:
        return self.metrics.compute()
