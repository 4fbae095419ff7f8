"""PSNR-Y with a border crop, the super-resolution reporting convention, against scikit-image."""

import numpy as np
import pytest
import skimage.color
import skimage.data
import skimage.metrics
import torch

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.images import to_tensor
from tradeoffs.metrics.distortion import SSIM, Distortion, bt601_luma
from tradeoffs.metrics.engine import MeasurementEngine
from tradeoffs.metrics.measure import Batch


def rgb_pair() -> tuple[torch.Tensor, torch.Tensor]:
    clean = torch.stack(
        [to_tensor(skimage.data.astronaut())[:, :64, :64], to_tensor(skimage.data.coffee())[:, :64, :64]]
    )
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=generator_for(3))).clamp(0, 1)
    return clean, noisy


def skimage_luma(images: torch.Tensor) -> np.ndarray:
    """Y of skimage.color.rgb2ycbcr ([16, 235] for floats in [0, 1]) scaled to [0, 1] like MATLAB's uint8 / 255."""
    return np.stack([skimage.color.rgb2ycbcr(im.permute(1, 2, 0).double().numpy())[..., 0] / 255 for im in images])


def test_luma_is_matlabs_rgb2ycbcr():
    clean, _ = rgb_pair()
    np.testing.assert_allclose(bt601_luma(clean.double())[:, 0].numpy(), skimage_luma(clean), atol=1e-12)
    grey = clean[:, :1]
    assert torch.equal(bt601_luma(grey), grey)


def measured(engine: MeasurementEngine, clean: torch.Tensor, restored: torch.Tensor, scale: int) -> dict:
    engine.prepare(*clean.shape[1:], len(clean), scale)
    measure = engine.measures["distortion"]
    measure.update(Batch(clean, None, restored.unsqueeze(1), engine.features, engine.features(clean)))
    return {k: v.item() for k, v in measure.compute().items()}


def test_psnr_y_with_the_scale_as_border_matches_skimage():
    clean, noisy = rgb_pair()
    engine = MeasurementEngine({"distortion": Distortion("first")}, num_samples=1, y_channel=True)
    values = measured(engine, clean, noisy, scale=4)
    assert engine.measures["distortion"].crop_border == 4  # the SR factor, by default
    a, b = skimage_luma(clean)[:, 4:-4, 4:-4], skimage_luma(noisy)[:, 4:-4, 4:-4]
    psnr = np.mean([skimage.metrics.peak_signal_noise_ratio(x, y, data_range=1) for x, y in zip(a, b, strict=True)])
    assert values["psnr_subset"] == pytest.approx(psnr, abs=1e-3)
    assert values["mse_subset"] == pytest.approx(np.mean((a - b) ** 2), rel=1e-4)
    ssim = np.mean(
        [
            skimage.metrics.structural_similarity(
                x, y, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            )
            for x, y in zip(a, b, strict=True)
        ]
    )
    assert values["ssim_subset"] == pytest.approx(ssim, abs=1e-6)  # Wang et al.'s convention, as scikit-image
    rgb = measured(MeasurementEngine({"distortion": Distortion("first")}, num_samples=1), clean, noisy, scale=4)
    assert rgb["psnr_subset"] != pytest.approx(values["psnr_subset"], abs=0.1)  # all channels, no crop: another number


def test_borders_default_to_zero_without_super_resolution_and_are_checked():
    clean, noisy = rgb_pair()
    engine = MeasurementEngine({"distortion": Distortion("first")}, num_samples=1, y_channel=True)
    measured(engine, clean, noisy, scale=1)
    assert engine.measures["distortion"].crop_border == 0
    with pytest.raises(ConfigError, match="metrics.crop_border=32 leaves nothing of the 64x64 images"):
        MeasurementEngine({"distortion": Distortion("first")}, crop_border=32).prepare(3, 64, 64, 2)


def skimage_ssim(clean: np.ndarray, restored: np.ndarray) -> float:
    """Mean over images of scikit-image's SSIM with Wang et al.'s settings (channels averaged)."""
    kwargs = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=0)
    return float(
        np.mean([skimage.metrics.structural_similarity(a, b, **kwargs) for a, b in zip(clean, restored, strict=True)])
    )


@pytest.mark.parametrize(("channels", "size", "sigma"), [(3, 48, 0.05), (1, 48, 0.3), (1, 11, 0.3), (3, 20, 0.5)])
def test_ssim_is_wang_et_al_s_as_scikit_image_computes_it(channels, size, sigma):
    clean = torch.rand(5, channels, size, size, generator=generator_for(channels * size))
    noisy = (clean + sigma * torch.randn(clean.shape, generator=generator_for(1))).clamp(0, 1)
    metric = SSIM()
    metric.update(noisy[:2], clean[:2])
    metric.update(noisy[2:], clean[2:])  # streamed over batches: the mean over images
    reference = skimage_ssim(clean.double().numpy(), noisy.double().numpy())
    assert metric.compute().item() == pytest.approx(reference, abs=1e-6)
