"""Classical baselines: each restorer is the library's own function, the grid follows the degradation."""

import numpy as np
import pytest
import skimage.restoration
import skimage.transform
import torch

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Compose, Downsample, GaussianBlur, GaussianNoise, Inpainting
from tradeoffs.models.classical import ClassicalRestorer, classical_grid


def restored(label: str, degradation, y: torch.Tensor) -> torch.Tensor:
    method = classical_grid(degradation)[label]
    return ClassicalRestorer(method, degradation, 1, label).restore(y, 3)


def test_denoisers_are_scikit_images_with_sigma_from_the_degradation():
    y = 0.5 + 0.1 * torch.randn(2, 1, 16, 16, generator=generator_for(1), dtype=torch.float64)
    noise = GaussianNoise(0.1)
    assert set(classical_grid(noise)) >= {"tv w=0.1", "wavelet BayesShrink", "nlm h=0.08", "gaussian σ=1"}
    out = restored("tv w=0.1", noise, y)
    assert out.shape == (2, 3, 1, 16, 16) and torch.equal(out[:, 0], out[:, 2])  # deterministic: K equal samples
    expected = skimage.restoration.denoise_tv_chambolle(y[1, 0].numpy(), weight=0.1)
    np.testing.assert_allclose(out[1, 0, 0].numpy(), expected, rtol=0, atol=1e-12)


def test_upsamplers_follow_the_composed_factor():
    sr = Compose([Downsample(4), GaussianNoise(0.0)])
    assert set(classical_grid(sr)) == {"nearest", "bilinear", "bicubic", "lanczos"}
    y = torch.rand(2, 1, 8, 8, generator=generator_for(2), dtype=torch.float64)
    out = restored("bicubic", sr, y)
    assert out.shape == (2, 3, 1, 32, 32)
    expected = skimage.transform.resize(y[0, 0].numpy(), (32, 32), order=3, anti_aliasing=False)
    np.testing.assert_allclose(out[0, 0, 0].numpy(), expected, atol=1e-12)
    assert torch.equal(restored("nearest", sr, y)[0, 0, 0, :4, :4], y[0, 0, 0, 0].expand(4, 4))


def test_inpainters_keep_observed_pixels_and_fill_the_hole():
    x = torch.rand(1, 1, 16, 16, generator=generator_for(3), dtype=torch.float64)
    inpainting = Inpainting("center", 0.5)
    y = inpainting(x)
    for label in ("biharmonic", "mean fill"):
        out = restored(label, inpainting, y)[0, 0]
        observed = y[0, 1:] > 0.5
        torch.testing.assert_close(out[observed], x[0][observed])
    hole = restored("mean fill", inpainting, y)[0, 0][~(y[0, 1:] > 0.5)]
    assert torch.allclose(hole, x[0][y[0, 1:] > 0.5].mean().expand_as(hole))


def test_degradations_without_baselines_are_named():
    with pytest.raises(ConfigError, match="no classical baselines for degradation GaussianBlur"):
        classical_grid(GaussianBlur(1.0))


def test_bm3d_is_the_packages_own_and_the_best_classical_denoiser_of_a_photograph():
    """BM3D with σ from the degradation equals bm3d.bm3d on the same image; on a 48×48 crop of scikit-image's camera
    (σ = 0.1) it has the lowest MSE of the grid, where the literature places it."""
    import bm3d
    import skimage.data

    clean = torch.from_numpy(skimage.data.camera()[200:248, 200:248] / 255.0)[None, None]
    noise = GaussianNoise(0.1)
    y = noise(clean, generator_for(5))
    out = restored("bm3d", noise, y)
    assert out.shape == (1, 3, 1, 48, 48) and torch.equal(out[:, 0], out[:, 1])
    np.testing.assert_allclose(out[0, 0, 0].numpy(), bm3d.bm3d(y[0, 0].numpy(), 0.1), atol=1e-6)  # float32 inside
    mse = {label: (restored(label, noise, y)[:, 0] - clean).square().mean().item() for label in classical_grid(noise)}
    assert min(mse, key=mse.get) == "bm3d", mse


def test_bm3d_fits_images_smaller_than_its_blocks():
    """The demo's 8×8 digits: smaller blocks and search windows, finite and closer to x than the observation."""
    clean = torch.rand(2, 1, 8, 8, generator=generator_for(6), dtype=torch.float64).round()
    noise = GaussianNoise(0.2)
    y = noise(clean, generator_for(7))
    out = restored("bm3d", noise, y)[:, 0]
    assert torch.isfinite(out).all() and (out - clean).square().mean() < (y - clean).square().mean()
