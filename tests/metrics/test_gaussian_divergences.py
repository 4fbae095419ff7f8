"""Gaussian-fit divergences against MATH.md §4 (O7, O8), torch.distributions and scipy."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.functional import (
    feature_sums,
    frechet_distance,
    frechet_distance_features,
    gaussian_entropy_power,
    gaussian_fit,
    gaussian_kl,
    logdet_unbiased,
    renyi_divergence_gaussian,
)

D = torch.float64
A = (torch.tensor([0.0, 1.0], dtype=D), torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=D))
B = (torch.tensor([0.5, 0.0], dtype=D), torch.tensor([[0.8, -0.2], [-0.2, 1.2]], dtype=D))
ONE_D = (
    (torch.tensor([0.3], dtype=D), torch.tensor([[1.0]], dtype=D)),
    (torch.tensor([-0.2], dtype=D), torch.tensor([[0.49]], dtype=D)),
)


def random_spd(d: int, seed: int) -> torch.Tensor:
    m = torch.randn(d, d, generator=generator_for(seed), dtype=D)
    return m @ m.T / d + 0.1 * torch.eye(d, dtype=D)


def test_oracle_o7_two_dimensional():
    assert gaussian_kl(*A, *B).item() == pytest.approx(0.8280213, abs=1e-6)
    assert gaussian_kl(*B, *A).item() == pytest.approx(2.4312576, abs=1e-6)
    assert renyi_divergence_gaussian(*A, *B).item() == pytest.approx(0.5974846, abs=1e-6)
    assert frechet_distance(*A, *B).item() == pytest.approx(1.5824570, abs=1e-6)
    assert gaussian_entropy_power(A[1]).item() == pytest.approx(0.6403124, abs=1e-6)
    assert gaussian_entropy_power(B[1]).item() == pytest.approx(0.9591663, abs=1e-6)


def test_oracle_o7_one_dimensional():
    p, q = ONE_D
    assert renyi_divergence_gaussian(*p, *q).item() == pytest.approx(0.1461965, abs=1e-6)
    assert gaussian_kl(*p, *q).item() == pytest.approx(0.4188353, abs=1e-6)


@pytest.mark.parametrize("d", [1, 3, 12])
def test_kl_matches_torch_distributions(d):
    mu1, mu2 = (
        torch.randn(d, dtype=D, generator=generator_for(d, 1)),
        torch.randn(d, dtype=D, generator=generator_for(d, 2)),
    )
    cov1, cov2 = random_spd(d, 3 * d), random_spd(d, 5 * d)
    expected = kl_divergence(MultivariateNormal(mu1, cov1), MultivariateNormal(mu2, cov2))
    torch.testing.assert_close(gaussian_kl(mu1, cov1, mu2, cov2), expected)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_renyi_matches_numerical_integration_in_1d(alpha):
    """D_α(P‖Q) = ln ∫ p^α q^{1−α} dx / (α − 1), integrated with scipy."""
    (mu_p, var_p), (mu_q, var_q) = (0.3, 1.0), (-0.2, 0.49)
    p, q = Normal(mu_p, math.sqrt(var_p)), Normal(mu_q, math.sqrt(var_q))

    def integrand(x):
        t = torch.tensor(x, dtype=D)
        return math.exp(alpha * p.log_prob(t).item() + (1 - alpha) * q.log_prob(t).item())

    integral, _ = scipy.integrate.quad(integrand, -20, 20)
    expected = math.log(integral) / (alpha - 1)
    got = renyi_divergence_gaussian(
        torch.tensor([mu_p], dtype=D),
        torch.tensor([[var_p]], dtype=D),
        torch.tensor([mu_q], dtype=D),
        torch.tensor([[var_q]], dtype=D),
        alpha,
    )
    assert got.item() == pytest.approx(expected, rel=1e-7)


def test_renyi_half_is_symmetric_and_infinite_when_undefined():
    torch.testing.assert_close(renyi_divergence_gaussian(*A, *B), renyi_divergence_gaussian(*B, *A))
    singular = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=D)
    assert renyi_divergence_gaussian(A[0], singular, *B).item() == math.inf
    assert gaussian_kl(*A, B[0], singular).item() == math.inf
    with pytest.raises(EstimatorInputError, match="alpha"):
        renyi_divergence_gaussian(*A, *B, alpha=1.0)


def test_frechet_matches_scipy_sqrtm_reference():
    d = 10
    mu1, mu2 = torch.zeros(d, dtype=D), torch.linspace(-1, 1, d, dtype=D)
    cov1, cov2 = random_spd(d, 1), random_spd(d, 2)
    root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()).real
    expected = ((mu1 - mu2) ** 2).sum().item() + np.trace(cov1.numpy() + cov2.numpy() - 2 * root)
    assert frechet_distance(mu1, cov1, mu2, cov2).item() == pytest.approx(expected, rel=1e-9)


def test_frechet_with_a_singular_first_covariance_matches_scipy():
    """A rank-deficient Σ1 (fewer samples than dimensions) has no Cholesky factor: the square root takes over."""
    d = 10
    factor = torch.randn(d, 4, generator=generator_for(7), dtype=D)
    cov1, cov2 = factor @ factor.T, random_spd(d, 2)
    root = scipy.linalg.sqrtm(scipy.linalg.sqrtm(cov1.numpy()) @ cov2.numpy() @ scipy.linalg.sqrtm(cov1.numpy())).real
    expected = np.trace(cov1.numpy() + cov2.numpy() - 2 * root)
    assert frechet_distance(torch.zeros(d, dtype=D), cov1, torch.zeros(d, dtype=D), cov2).item() == pytest.approx(
        expected, rel=1e-8
    )


def test_frechet_diagonal_closed_form():
    a, b = torch.tensor([1.0, 0.25, 4.0], dtype=D), torch.tensor([0.5, 1.0, 0.1], dtype=D)
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0], dtype=D), torch.tensor([1.0, 1.0, 0.0], dtype=D)
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()
    torch.testing.assert_close(frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)), expected)


@pytest.mark.parametrize(("n1", "n2", "d"), [(30, 20, 64), (500, 400, 8)])
def test_frechet_feature_form_is_exact_with_fewer_samples_than_dimensions(n1, n2, d):
    a = torch.randn(n1, d, generator=generator_for(1), dtype=D)
    b = 0.5 + 2 * torch.randn(n2, d, generator=generator_for(2), dtype=D)
    via_cov = frechet_distance(*gaussian_fit(*feature_sums(a)), *gaussian_fit(*feature_sums(b)))
    torch.testing.assert_close(frechet_distance_features(a, b), via_cov, rtol=1e-7, atol=1e-8)


def test_frechet_of_a_set_with_itself_is_zero():
    f = torch.randn(200, 16, generator=generator_for(3), dtype=D)
    assert abs(frechet_distance(*gaussian_fit(*feature_sums(f)), *gaussian_fit(*feature_sums(f))).item()) < 1e-10
    assert abs(frechet_distance_features(f, f).item()) < 1e-10


def test_streamed_sums_give_the_batch_fit():
    f = torch.randn(100, 5, generator=generator_for(4), dtype=D)
    halves = [feature_sums(f[:37]), feature_sums(f[37:])]
    total, outer, n = (sum(s[i] for s in halves) for i in range(3))
    mean, cov = gaussian_fit(total, outer, n)
    torch.testing.assert_close(mean, f.mean(0))
    torch.testing.assert_close(cov, torch.cov(f.T))


def test_logdet_unbiased_removes_the_wishart_bias():
    d, n, trials = 8, 16, 3000
    cov = random_spd(d, 9)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(trials, n, d, generator=generator_for(5), dtype=D) @ chol.T
    samples = torch.stack([torch.cov(t.T) for t in z])
    truth = torch.logdet(cov).item()
    naive = torch.logdet(samples).mean().item()
    corrected = logdet_unbiased(samples, n).mean().item()
    standard_error = logdet_unbiased(samples, n).std().item() / math.sqrt(trials)
    assert naive < truth - 1.0  # the plain estimate is far too low at n = 2d
    assert abs(corrected - truth) < 3 * standard_error
    with pytest.raises(EstimatorInputError, match="needs at least 9 samples, got 5"):
        logdet_unbiased(cov, 5)


@pytest.mark.parametrize("d", [16, 200, 257])
def test_the_symmetric_product_is_the_gram_matrix(d):
    from tradeoffs.core.gaussian import symmetric_product

    f = torch.randn(300, d, generator=generator_for(9), dtype=D)
    torch.testing.assert_close(symmetric_product(f), f.T @ f, rtol=1e-12, atol=1e-10)
