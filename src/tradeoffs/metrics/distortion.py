"""Full-reference distortion: MSE, PSNR and SSIM (torchmetrics), averaged per image, data range 1; optionally on
the luma channel and without a border, as super-resolution papers report them."""

import warnings

import torch
from torch import Tensor, nn
from torchmetrics import MeanSquaredError, Metric, MetricCollection
from torchmetrics.functional.image import structural_similarity_index_measure
from torchmetrics.image import PeakSignalNoiseRatio

from tradeoffs.core.errors import ConfigError
from tradeoffs.metrics.measure import Batch, Key, Measure, Spec

SSIM_KERNEL = 11
NEEDS_K = "metrics.num_samples=1 (they need K >= 2 samples per input)"
ESTIMATES = {"first": "_subset", "mean_k": "_mean_k"}  # which restoration of each input is compared with x


class SSIM(Metric):
    """SSIM as Wang et al.'s code and scikit-image compute it (Gaussian window σ = 1.5, 11×11; population
    covariances; data range 1): the SSIM map averaged per image over the pixels whose window lies inside the image,
    then over images. torchmetrics' own SSIM averages its reflect-padded map, border included (up to 13 % apart on
    small noisy images); its map is reused here, without that border."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        _, maps = structural_similarity_index_measure(
            preds.double(), target.double(), data_range=1.0, reduction="none", return_full_image=True
        )
        inside = SSIM_KERNEL // 2
        per_image = maps[..., inside:-inside, inside:-inside].mean(dim=(1, 2, 3))
        self.total += per_image.sum()
        self.count += len(per_image)

    def compute(self) -> Tensor:
        return (self.total / self.count).float()


def distortion_metrics(prefix: str, image_size: int, postfix: str = "") -> MetricCollection:
    """MSE, PSNR (per image, then averaged) and SSIM (Wang et al.'s convention; skipped on images smaller than its
    11×11 window)."""
    metrics = {"mse": MeanSquaredError(), "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))}
    if image_size >= SSIM_KERNEL:
        metrics["ssim"] = SSIM()
    else:
        warnings.warn(
            f"SSIM needs images of at least {SSIM_KERNEL} px; skipping it on {image_size} px images", stacklevel=2
        )
    return MetricCollection(metrics, prefix=prefix, postfix=postfix or None)


BT601 = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr's Y weights for RGB in [0, 1]; Y in [16, 235] / 255


def bt601_luma(images: Tensor) -> Tensor:
    """Y of ITU-R BT.601 as MATLAB's `rgb2ycbcr` (the SR papers' PSNR-Y): (16 + 65.481 R + 128.553 G + 24.966 B)
    / 255 for RGB (N, 3, H, W) in [0, 1] -> (N, 1, H, W); grey images are returned as they are."""
    if images.shape[1] == 1:
        return images
    weights = images.new_tensor(BT601).view(1, 3, 1, 1)
    return (16 + (images * weights).sum(dim=1, keepdim=True)) / 255


def without_border(images: Tensor, border: int) -> Tensor:
    return (
        images[..., border : images.shape[-2] - border, border : images.shape[-1] - border].contiguous()
        if border
        else images
    )


def restoration_of(batch: Batch, estimate: str) -> Tensor:
    return batch.first if estimate == "first" else batch.mean_k


def check_estimate(estimate: str, measure: str) -> str:
    if estimate not in ESTIMATES:
        raise ConfigError(f"metrics.measures: {measure}(estimate={estimate!r}) must be one of {', '.join(ESTIMATES)}")
    return ESTIMATES[estimate]


class Distortion(nn.Module, Measure):
    """`mse`, `psnr`, `ssim` of the first sample of each input (`estimate: first`, keys `*_subset`: the images and
    samples perception sees) or of the mean of its K samples (`estimate: mean_k`, keys `*_mean_k`, K ≥ 2).

    With `metrics.y_channel` on BT.601 luma (`bt601_luma`) instead of all channels, and without the
    `metrics.crop_border` pixels on each side (by default the super-resolution factor when y_channel is on): the
    "PSNR-Y, crop = scale" convention of super-resolution papers."""

    def __init__(self, estimate: str = "first") -> None:
        super().__init__()
        self.estimate_name, self.suffix = estimate, check_estimate(estimate, "Distortion")
        self.keys = {
            f"{n}{self.suffix}": Key("distortion", higher_is_better=n != "mse") for n in ("mse", "psnr", "ssim")
        }

    def prepare(self, spec: Spec) -> str | None:
        if self.estimate_name == "mean_k" and spec.num_samples < 2:
            return NEEDS_K
        self.y_channel, self.crop_border = spec.y_channel, spec.crop_border
        size = min(spec.height, spec.width) - 2 * self.crop_border
        self.metrics = distortion_metrics("", size, postfix=self.suffix)
        self.keys = {k: v for k, v in self.keys.items() if k.removesuffix(self.suffix) in self.metrics}
        return None

    def update(self, batch: Batch) -> None:
        preds, target = restoration_of(batch, self.estimate_name), batch.x
        if self.y_channel:
            preds, target = bt601_luma(preds), bt601_luma(target)
        self.metrics.update(without_border(preds, self.crop_border), without_border(target, self.crop_border))

    def compute(self) -> dict[str, Tensor]:
        return self.metrics.compute()
