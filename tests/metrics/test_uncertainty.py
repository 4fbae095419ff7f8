"""Uncertainty estimators on Gaussian denoising, where N(X|Y), D* and the posterior are known (MATH.md O8)."""

import pytest
import torch

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.metrics.functional import (
    conditional_spread_entropy_power,
    gaussian_entropy_power,
    image_patches,
    mse_k_decomposition,
    pooled_error_entropy_power,
)
from tradeoffs.theory.gaussian import posterior_covariance, wiener_filter

NOISE_VAR = 0.01  # σ = 0.1 on images with pixel std 0.1


class GaussianDenoising:
    """X ~ N(μ, Σ) on 1×4×4 images (d = 16), Y = X + σN; exact MMSE estimator and posterior sampler."""

    def __init__(self, n: int, seed: int = 0) -> None:
        source = GaussianImages(crop_size=4, channels=1, mean=0.5, std=0.1, correlation_length=2.0)
        self.d, self.mean = source.dim, source.mean
        self.post_cov = posterior_covariance(source.covariance, NOISE_VAR)
        self.filter = wiener_filter(source.covariance, NOISE_VAR)
        self.post_chol = torch.linalg.cholesky(self.post_cov)
        g = generator_for(seed)
        self.x = self.mean + torch.randn(n, self.d, generator=g, dtype=torch.float64) @ source.cholesky.T
        self.y = self.x + NOISE_VAR**0.5 * torch.randn(n, self.d, generator=g, dtype=torch.float64)
        self.mmse = self.mean + (self.y - self.mean) @ self.filter.T
        self.generator = g

    def posterior_samples(self, k: int) -> torch.Tensor:
        """(n, k, d) draws from p(x | y)."""
        z = torch.randn(len(self.y), k, self.d, generator=self.generator, dtype=torch.float64)
        return self.mmse[:, None] + z @ self.post_chol.T

    @property
    def inherent(self) -> float:
        return gaussian_entropy_power(self.post_cov).item()

    @property
    def mmse_per_pixel(self) -> float:
        return self.post_cov.trace().item() / self.d


def as_images(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(*v.shape[:-1], 1, 4, 4)


def test_pooled_bound_of_the_mmse_estimator_is_the_inherent_uncertainty():
    problem = GaussianDenoising(n=20000)
    u1, trace = pooled_error_entropy_power(as_images(problem.mmse - problem.x), patch_size=4)
    assert u1.item() == pytest.approx(problem.inherent, rel=0.03)
    assert trace.item() == pytest.approx(problem.mmse_per_pixel, rel=0.03)


def test_pooled_bound_of_a_posterior_sampler_is_twice_the_inherent_uncertainty():
    problem = GaussianDenoising(n=20000, seed=1)
    samples = problem.posterior_samples(1)[:, 0]
    u1, _ = pooled_error_entropy_power(as_images(samples - problem.x), patch_size=4)
    assert u1.item() == pytest.approx(2 * problem.inherent, rel=0.03)


def test_mean_of_k_posterior_samples_and_the_mse_k_decomposition():
    problem = GaussianDenoising(n=4000, seed=2)
    samples = problem.posterior_samples(8)
    for k in (1, 2, 4, 8):
        mse = (samples[:, :k].mean(1) - problem.x).square().mean().item()
        assert mse == pytest.approx(problem.mmse_per_pixel * (1 + 1 / k), rel=0.03)
    a, b = mse_k_decomposition(as_images(samples), as_images(problem.x))
    assert a.item() == pytest.approx(problem.mmse_per_pixel, rel=0.05)
    assert b.item() == pytest.approx(problem.mmse_per_pixel, rel=0.03)


def test_conditional_spread_of_a_posterior_sampler_is_the_inherent_uncertainty():
    problem = GaussianDenoising(n=400, seed=3)
    spread = conditional_spread_entropy_power(as_images(problem.posterior_samples(48)), patch_size=4)
    assert spread.item() == pytest.approx(problem.inherent, rel=0.03)


def test_a_deterministic_restorer_has_no_spread():
    x = torch.rand(4, 1, 1, 8, 8, generator=generator_for(6)).expand(-1, 3, -1, -1, -1)
    assert conditional_spread_entropy_power(x, patch_size=2).item() < 1e-12  # 0 up to float32 round-off
    a, b = mse_k_decomposition(x, x[:, 0] + 0.1)
    assert b.item() < 1e-14 and a.item() == pytest.approx(0.01)


@pytest.mark.parametrize("kind", ["gaussian", "uniform", "heavy_tailed", "biased", "sparse"])
def test_bound_chain_u1_le_trace_le_mse_on_arbitrary_errors(kind):
    g = generator_for(11, len(kind))
    shape = (64, 3, 16, 16)
    errors = {
        "gaussian": torch.randn(shape, generator=g),
        "uniform": torch.rand(shape, generator=g) - 0.5,
        "heavy_tailed": torch.randn(shape, generator=g) / torch.rand(shape, generator=g).clamp_min(0.05),
        "biased": 0.3 + 0.01 * torch.randn(shape, generator=g),
        "sparse": torch.randn(shape, generator=g) * (torch.rand(shape, generator=g) < 0.1),
    }[kind]
    u1, trace = pooled_error_entropy_power(errors, patch_size=4)
    assert 0 <= u1.item() <= trace.item() <= errors.double().square().mean().item() * (1 + 1e-12)


def test_image_patches_tile_the_image():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    patches = image_patches(images, 2)
    assert patches.shape == (8, 12)
    torch.testing.assert_close(patches[0], images[0, :, :2, :2].flatten())
    assert sorted(patches.flatten().tolist()) == sorted(images.flatten().tolist())


def test_bad_input_messages():
    with pytest.raises(EstimatorInputError, match="metrics.patch_size=8 is larger than the 4x4 images"):
        pooled_error_entropy_power(torch.randn(100, 1, 4, 4), 8)
    with pytest.raises(EstimatorInputError, match=r"d = C·p·p = 48 needs more than 48 error patches \(≥ 2400"):
        pooled_error_entropy_power(torch.randn(10, 3, 8, 8), 4)
    with pytest.raises(EstimatorInputError, match="the errors hold NaN or infinite values"):
        pooled_error_entropy_power(torch.full((100, 1, 4, 4), float("nan")), 2)
    with pytest.raises(EstimatorInputError, match="metrics.num_samples >= 2, got 1"):
        conditional_spread_entropy_power(torch.randn(4, 1, 1, 8, 8), 2)
    with pytest.raises(EstimatorInputError, match="metrics.num_samples >= 2, got 1"):
        mse_k_decomposition(torch.randn(4, 1, 1, 8, 8), torch.randn(4, 1, 8, 8))
    with pytest.raises(EstimatorInputError, match=r"P·\(K − 1\) ≥ 16"):
        conditional_spread_entropy_power(torch.randn(4, 3, 1, 4, 4), 4)
