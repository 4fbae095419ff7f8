"""Test-time traversal against closed forms on Gaussian denoising: averaging, interpolation, patch transport."""

import pytest
import scipy.linalg
import torch

from tests.conftest import gaussian_denoising
from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.metrics.functional import gaussian_transport_map
from tradeoffs.models.reference import exact_posterior
from tradeoffs.models.test_time import Interpolation, PatchTransport, SampleAverage, SampleBank
from tradeoffs.theory.gaussian import GaussianDenoisingTheory


@pytest.fixture(scope="module")
def case():
    """White Gaussian images, σ_x = σ_n = 0.1: per-pixel D* = 0.005 (O1 scaled by 0.01)."""
    return gaussian_denoising(correlation_length=0.0)


def mse(restorer, x, y, seed=0):
    out = restorer.restore(y, 1, generator=torch.Generator().manual_seed(seed))[:, 0]
    return float((out.double() - x.double()).square().mean()) / 0.01  # in O1's units (σ² = 1)


@pytest.mark.parametrize(("k", "oracle"), [(1, 1.0), (2, 0.75), (4, 0.625), (8, 0.5625)])
def test_averaging_k_posterior_samples_gives_dstar_times_one_plus_one_over_k(case, k, oracle):
    source, degradation, x, y = case
    averaged = SampleAverage(exact_posterior(source, degradation, "sample"), k)
    assert mse(averaged, x, y) == pytest.approx(oracle, rel=0.03)


@pytest.mark.parametrize(("k", "oracle"), [(1, 1.0), (2, 0.75), (4, 0.625), (8, 0.5625)])
def test_nested_means_from_one_bank_keep_the_closed_form(case, k, oracle):
    source, degradation, x, y = case
    sampler = exact_posterior(source, degradation, "sample")
    averaged = SampleAverage(sampler, k, SampleBank(sampler, 8))
    assert mse(averaged, x, y) == pytest.approx(oracle, rel=0.03)


def test_a_bank_draws_once_and_every_k_averages_the_first_k_of_those_draws(case):
    source, degradation, _, y = case
    sampler, calls = exact_posterior(source, degradation, "sample"), []
    restore = sampler.restore
    sampler.restore = lambda *args, **kwargs: calls.append(args[1]) or restore(*args, **kwargs)
    bank, y = SampleBank(sampler, 4), y[:8]
    outputs = {k: SampleAverage(sampler, k, bank).restore(y, 2, torch.Generator().manual_seed(7)) for k in (1, 2, 4)}
    assert calls == [8]  # K = 2 outputs × depth 4, drawn once for k = 1, 2 and 4
    draws = restore(y, 8, generator=torch.Generator().manual_seed(7)).view(8, 2, 4, *y.shape[1:])
    for k, out in outputs.items():
        torch.testing.assert_close(out, draws[:, :, :k].mean(dim=2))
    SampleAverage(sampler, 1, bank).restore(y, 2, torch.Generator().manual_seed(8))
    assert calls == [8, 8]  # another generator state: new draws
    with pytest.raises(ValueError, match="depth 4"):
        SampleAverage(sampler, 8, bank)


@pytest.mark.parametrize("alpha", [-1.0, 0.0, 0.5, 1.0, 2.0])
def test_interpolating_a_posterior_sampler_with_the_mmse_gives_dstar_times_one_plus_squared_gap(case, alpha):
    """x̂_α = X* + (1 − α)(S − X*) with S − X* ~ N(0, Σ_{x|y}) independent of the error X − X*:
    MSE = D*·(1 + (1 − α)²)."""
    source, degradation, x, y = case
    interpolated = Interpolation(
        exact_posterior(source, degradation, "sample"), exact_posterior(source, degradation, "mmse"), alpha
    )
    assert mse(interpolated, x, y) == pytest.approx(0.5 * (1 + (1 - alpha) ** 2), rel=0.03)


def test_interpolation_is_exactly_affine_in_alpha(case):
    source, degradation, _, y = case
    sampler, mmse = exact_posterior(source, degradation, "sample"), exact_posterior(source, degradation, "mmse")
    outputs = [Interpolation(sampler, mmse, a).restore(y[:8], 2, torch.Generator().manual_seed(0)) for a in (0, 1, 0.3)]
    torch.testing.assert_close(outputs[2], 0.7 * outputs[0] + 0.3 * outputs[1])


def test_gaussian_transport_map_pushes_one_gaussian_onto_the_other():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g, dtype=torch.float64)
    cov_s, cov_t = a @ a.T + 0.1 * torch.eye(5), b @ b.T + 0.1 * torch.eye(5)
    matrix = gaussian_transport_map(torch.zeros(5), cov_s, torch.zeros(5), cov_t, eps=0)
    torch.testing.assert_close(matrix @ cov_s @ matrix.T, cov_t)
    torch.testing.assert_close(matrix, matrix.T)
    root = scipy.linalg.sqrtm(cov_s.numpy())  # the formula of MATH.md §5, with scipy's matrix square roots
    inv_root = torch.linalg.inv(torch.from_numpy(root.real))
    reference = inv_root @ torch.from_numpy(scipy.linalg.sqrtm(root @ cov_t.numpy() @ root).real) @ inv_root
    torch.testing.assert_close(matrix, reference, rtol=1e-6, atol=1e-8)


def test_transporting_the_mmse_estimate_gives_the_perfect_perception_estimator():
    """Whole-image patches on correlated Gaussian denoising: T(X*) = X̂_0, whose MSE is D(0) = D* + P*²
    (Freirich et al.); α = 1 keeps X* (MSE D*)."""
    source = GaussianImages(crop_size=4, std=0.1, correlation_length=2.0, num_val=6000)
    degradation = GaussianNoise(0.1)
    theory = GaussianDenoisingTheory.from_prior(source.covariance, 0.01)
    x = source.validation_images()
    y = degradation(x, torch.Generator().manual_seed(2))
    mmse = exact_posterior(source, degradation, "mmse")
    transport = PatchTransport(mmse, patch_size=4).fit(mmse.restore(y[:3000])[:, 0], x[3000:])
    test_x, test_y = x[:3000], y[:3000]
    d_zero = (theory.mmse + theory.perfect_perception_distance**2) / theory.dim
    assert mse(transport, test_x, test_y) * 0.01 == pytest.approx(d_zero, rel=0.05)
    transport.alpha = 1.0
    assert mse(transport, test_x, test_y) * 0.01 == pytest.approx(theory.mmse / theory.dim, rel=0.05)


def test_patch_transport_of_matching_statistics_is_the_identity():
    images = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    transport = PatchTransport(exact_posterior(GaussianImages(crop_size=8), GaussianNoise(0.1), "mmse"), 2)
    transport.fit(images, images)
    torch.testing.assert_close(transport.transport(images), images, atol=1e-5, rtol=0)


def test_patch_transport_refuses_bad_sizes():
    base = exact_posterior(GaussianImages(crop_size=4), GaussianNoise(0.1), "mmse")
    with pytest.raises(ConfigError, match="traversal.patch_size=3"):
        PatchTransport(base, 3).fit(torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4))
    with pytest.raises(ConfigError, match="fit_images"):
        PatchTransport(base, 4).fit(torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4))
    with pytest.raises(ConfigError, match="traversal.k"):
        SampleAverage(base, 0)
