"""Streaming metric classes equal their functional twins; feature spaces; weights that are never downloaded."""

from functools import partial

import numpy as np
import pytest
import skimage.data
import skimage.metrics
import torch
import torchvision

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.images import to_tensor
from tradeoffs.losses.adversarial import gradient_penalty
from tradeoffs.metrics.distortion import distortion_metrics
from tradeoffs.metrics.features import PatchFeatures, RandomConvFeatures, feature_space
from tradeoffs.metrics.functional import (
    conditional_spread_entropy_power,
    feature_sums,
    frechet_distance,
    gaussian_fit,
    mse_k_decomposition,
    pooled_error_entropy_power,
)
from tradeoffs.metrics.lpips_distance import LPIPSDistance, build_lpips, lpips_problem
from tradeoffs.metrics.measure import Batch, Spec
from tradeoffs.metrics.perception import GaussianFitDivergences
from tradeoffs.metrics.posthoc_critic import posthoc_critic_w1
from tradeoffs.metrics.uncertainty import ConditionalSpread, PooledErrorUncertainty, SampleAveraging
from tradeoffs.metrics.weights import ALEXNET, cached_weights
from tradeoffs.models.networks.critics import GlobalCritic


def test_streaming_uncertainty_metrics_equal_the_functional_estimators():
    g = generator_for(0)
    samples, x = torch.rand(12, 4, 3, 16, 16, generator=g), torch.rand(12, 3, 16, 16, generator=g)
    pooled, spread, averaging = PooledErrorUncertainty(3, 4), ConditionalSpread(4), SampleAveraging()
    for i in range(0, 12, 5):  # uneven batches
        pooled.update(samples[i : i + 5], x[i : i + 5])
        spread.update(samples[i : i + 5])
        averaging.update(samples[i : i + 5], x[i : i + 5])
    u1, trace = pooled_error_entropy_power(samples - x[:, None], 4)
    out = pooled.compute()
    torch.testing.assert_close(out["pooled"], u1)
    torch.testing.assert_close(out["pooled_trace"], trace)
    torch.testing.assert_close(out["mse"], (samples - x[:, None]).double().square().mean())
    torch.testing.assert_close(spread.compute()["spread"], conditional_spread_entropy_power(samples, 4))
    a, b = mse_k_decomposition(samples, x)
    avg = averaging.compute()
    torch.testing.assert_close(avg["mse_k_a"], a)
    torch.testing.assert_close(avg["mse_k_b"], b)
    torch.testing.assert_close(avg["pixel_std"], samples.double().std(dim=1).mean())


def test_streaming_gaussian_divergences_equal_a_batch_fit():
    g = generator_for(1)
    real, fake = torch.randn(300, 6, generator=g), 0.3 + torch.randn(300, 6, generator=g)
    metric = GaussianFitDivergences(6)
    for i in range(0, 300, 70):
        metric.update(real[i : i + 70], fake[i : i + 70])
    expected = frechet_distance(*gaussian_fit(*feature_sums(real)), *gaussian_fit(*feature_sums(fake)))
    out = metric.compute()
    torch.testing.assert_close(out["fd"], expected)
    assert out["renyi"] > 0
    few = GaussianFitDivergences(6)
    few.update(real[:5], fake[:5])
    assert set(few.compute()) == {"fd"}  # Rényi needs more samples than dimensions


def photos() -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of two real photos and noisy versions of them."""
    clean = torch.stack(
        [to_tensor(skimage.data.astronaut())[:, :96, :96], to_tensor(skimage.data.coffee())[:, :96, :96]]
    )
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=generator_for(2))).clamp(0, 1)
    return clean, noisy


def test_psnr_and_ssim_match_scikit_image_on_real_photos():
    clean, noisy = photos()
    metrics = distortion_metrics("", 96)
    metrics.update(noisy, clean)
    out = metrics.compute()
    psnr = np.mean(
        [
            skimage.metrics.peak_signal_noise_ratio(c.numpy(), n.numpy(), data_range=1.0)
            for c, n in zip(clean, noisy, strict=True)
        ]
    )
    ssim = np.mean(
        [
            skimage.metrics.structural_similarity(
                c.numpy(),
                n.numpy(),
                data_range=1.0,
                channel_axis=0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            for c, n in zip(clean, noisy, strict=True)
        ]
    )
    assert out["psnr"].item() == pytest.approx(psnr, abs=1e-3)
    assert out["ssim"].item() == pytest.approx(ssim, abs=2e-3)


@pytest.mark.parametrize("features", ["patches", "random_conv"])
def test_perception_grows_monotonically_with_blur(features):
    clean = torch.stack(
        [
            to_tensor(skimage.data.astronaut())[:, i : i + 64, j : j + 64]
            for i in range(0, 448, 64)
            for j in range(0, 448, 64)
        ]
    )
    space = feature_space(features, 3, patch_size=4)
    fds = []
    for sigma in (0.5, 1.0, 2.0, 3.0):
        blurred = torchvision.transforms.functional.gaussian_blur(clean, 9, sigma)
        metric = GaussianFitDivergences(space.dim)
        metric.update(space(clean), space(blurred))
        fds.append(metric.compute()["fd"].item())
    assert fds == sorted(fds) and fds[0] > 0


def test_random_conv_features_are_identical_across_instances():
    a, b = RandomConvFeatures(3, seed=7), RandomConvFeatures(3, seed=7)
    images = torch.rand(4, 3, 32, 32, generator=generator_for(3))
    torch.testing.assert_close(a(images), b(images), rtol=0, atol=0)
    assert not torch.equal(a(images), RandomConvFeatures(3, seed=8)(images))
    assert a(images).shape == (4, a.dim)


def test_missing_weights_are_named_and_never_downloaded():
    path = cached_weights(ALEXNET[0])
    assert not path.exists()  # tests run with TORCH_HOME in a temp dir
    with pytest.raises(ConfigError, match=f"metrics.measures.lpips.mode: pretrained weights {path} are missing"):
        build_lpips(True, 64)
    assert build_lpips("auto", 64) is None and "AlexNet weights" in lpips_problem(64)  # the reason the engine warns
    assert build_lpips("auto", 16) is None and "LPIPS needs images of at least 32 px" in lpips_problem(16)
    with pytest.raises(ConfigError, match="metrics.measures.lpips.mode=true: LPIPS needs images of at least 32 px"):
        build_lpips(True, 16)
    assert build_lpips(False, 64) is None
    with pytest.raises(ConfigError, match="metrics.measures.lpips.mode must be auto, true or false"):
        build_lpips("maybe", 64)
    with pytest.raises(ConfigError, match="weights-inception-2015-12-05-6726825d.pth are missing"):
        feature_space("inception", 3, 4)
    with pytest.raises(ConfigError, match="metrics.features"):
        feature_space("clip", 3, 4)


def test_lpips_runs_on_cached_alexnet_weights(tmp_path):
    """With weights in the hub cache (random ones here), LPIPS loads them and measures without any download."""
    original = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        cached_weights(ALEXNET[0]).parent.mkdir(parents=True)
        torch.save(torchvision.models.alexnet().state_dict(), cached_weights(ALEXNET[0]))
        clean, noisy = photos()
        spec = Spec(*clean.shape[1:], len(clean), 1, 4, PatchFeatures(clean.shape[1], 4))
        metric = LPIPSDistance("first", mode="auto")
        assert metric.prepare(spec) is None

        def lpips_of(restored):
            metric.reset()
            metric.update(Batch(clean, None, restored.unsqueeze(1), spec.features, clean))
            return metric.compute()["lpips"].item()

        assert lpips_of(clean) == pytest.approx(0.0, abs=1e-6)
        assert lpips_of(noisy) > 0
        assert lpips_of(clean[:, :1].expand_as(clean)) > 0  # grey images are replicated to RGB, not rejected
    finally:
        torch.hub.set_dir(original)


def test_posthoc_critic_separates_shifted_distributions():
    g = generator_for(4)
    real = 0.5 + 0.1 * torch.randn(256, 1, 8, 8, generator=g)
    same = 0.5 + 0.1 * torch.randn(256, 1, 8, 8, generator=g)
    critic = partial(GlobalCritic, width=16)
    w_same = posthoc_critic_w1(real, same, critic, gradient_penalty, steps=150).item()
    w_shift = [posthoc_critic_w1(real, same + s, critic, gradient_penalty, steps=150).item() for s in (0.05, 0.15)]
    # W1 between N(μ, σ²I) and N(μ + s·1, σ²I) in R^64 is 8s: 0.4 and 1.2 (the critic gives a lower bound, up to
    # the sampling noise of the held-out halves)
    assert abs(w_same) < 0.05
    assert w_shift[0] == pytest.approx(0.4, rel=0.25) and w_shift[1] == pytest.approx(1.2, rel=0.15)
