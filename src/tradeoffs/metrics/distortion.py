"""Full-reference distortion: MSE, PSNR and SSIM (torchmetrics), averaged per image, data range 1."""

import warnings

from torchmetrics import MeanSquaredError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

SSIM_KERNEL = 11


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
