"""Every number of MATH.md §4 (O1–O6, O2's η values) from the theory module."""

import math

import numpy as np
import pytest
import torch

from tradeoffs.metrics.functional import renyi_divergence_gaussian
from tradeoffs.theory.examples import (
    discrete_example_risks,
    discrete_posterior_mean,
    linear_estimator_curve,
    linear_estimator_risks,
)
from tradeoffs.theory.gaussian import (
    GaussianDenoisingTheory,
    k_average_covariance,
    k_average_w2,
    posterior_covariance,
    wiener_filter,
)
from tradeoffs.theory.tradeoff import (
    distortion_perception,
    eta,
    k_average_mse,
    k_average_perception,
    perception_response_w2,
    perception_response_w2_squared,
    uncertainty_perception,
)

D = torch.float64
approx = lambda value: pytest.approx(value, abs=2e-7)  # noqa: E731 (MATH.md gives 7 digits)


def scalar(prior_var: float, noise_var: float) -> GaussianDenoisingTheory:
    return GaussianDenoisingTheory.from_prior(torch.tensor([[prior_var]], dtype=D), noise_var)


def test_o1_scalar_gaussian_denoising():
    t = scalar(1.0, 1.0)
    assert (t.mmse, t.inherent_uncertainty) == (approx(0.5), approx(0.5))
    assert t.perfect_perception_distance == approx(0.2928932)
    assert distortion_perception(0.0, t.mmse, t.perfect_perception_distance) == approx(0.5857864)
    assert distortion_perception(0.1, t.mmse, t.perfect_perception_distance) == approx(0.5372078)
    assert distortion_perception(0.2, t.mmse, t.perfect_perception_distance) == approx(0.5086292)
    assert distortion_perception(0.5, t.mmse, t.perfect_perception_distance) == approx(0.5)  # beyond P*: D*
    assert k_average_mse(t.mmse, 1) == approx(1.0)
    assert list(k_average_mse(t.mmse, [2, 4, 8])) == [approx(0.75), approx(0.625), approx(0.5625)]
    expected = [1.0, 0.7013817, 0.5570844, 0.5181687]
    got = uncertainty_perception([0, 0.1, 0.5, 1.0], 1, t.inherent_uncertainty)
    assert list(got) == [approx(v) for v in expected]


def test_o1_other_noise_levels():
    quarter, four = scalar(1.0, 0.25), scalar(1.0, 4.0)
    assert quarter.inherent_uncertainty == approx(0.2)
    assert uncertainty_perception(0.5, 1, quarter.inherent_uncertainty) == approx(0.2228338)
    assert four.inherent_uncertainty == approx(0.8)
    assert uncertainty_perception(1.0, 1, four.inherent_uncertainty) == approx(0.8290699)


def test_o2_eta():
    table = {
        1: {0.01: 1.753283, 0.1: 1.402763, 0.5: 1.114169, 1: 1.036337},
        64: {0.1: 1.894194, 0.5: 1.778547, 1: 1.701542, 2: 1.604951},
        2048: {0.1: 1.980430, 1: 1.939408},
    }
    for d, values in table.items():
        for p, value in values.items():
            assert eta(p, d) == pytest.approx(value, abs=2e-6)
    assert eta(0.0, 7) == 2.0 and eta(1e6, 7) == pytest.approx(1.0)


def test_o2_averaging_posterior_samples_sits_on_the_frontier():
    """P_k is the conditional Rényi-½ divergence between p(x|y) = N(y/2, 1/2) and the k-average N(y/2, 1/(2k))."""
    for k, p_k, eta_k in ((2, 0.0588915, 1.5), (4, 0.2231436, 1.25), (8, 0.4643566, 1.125)):
        assert k_average_perception(k) == approx(p_k)
        assert eta(p_k, 1) == pytest.approx(eta_k, abs=1e-6)
        mean = torch.zeros(1, dtype=D)
        got = renyi_divergence_gaussian(mean, torch.tensor([[0.5]], dtype=D), mean, torch.tensor([[0.5 / k]], dtype=D))
        assert got.item() == approx(p_k)


def test_o3_diagonal_gaussian():
    prior = torch.diag(torch.tensor([1.0, 0.5, 0.25, 0.1], dtype=D))
    post = posterior_covariance(prior, 0.25)
    assert post.diagonal().tolist() == [approx(v) for v in (0.2, 0.1666667, 0.125, 0.0714286)]
    t = GaussianDenoisingTheory.from_prior(prior, 0.25)
    assert (t.inherent_uncertainty, t.mmse) == (approx(0.1313455), approx(0.5630952))
    assert t.perfect_perception_distance == approx(0.2666382)
    assert distortion_perception(0, t.mmse, t.perfect_perception_distance) == approx(0.6341911)
    assert k_average_mse(t.mmse, 1) == approx(1.1261905)
    assert uncertainty_perception(0, 4, t.inherent_uncertainty) == approx(0.2626910)
    assert uncertainty_perception(1, 4, t.inherent_uncertainty) == approx(0.1614304)


def test_o4_correlated_gaussian():
    prior = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=D)
    post = posterior_covariance(prior, 0.5)
    torch.testing.assert_close(
        post, torch.tensor([[0.2807018, 0.1315789], [0.1315789, 0.1710526]], dtype=D), atol=2e-7, rtol=0
    )
    t = GaussianDenoisingTheory.from_prior(prior, 0.5)
    assert (t.mmse, t.perfect_perception_distance) == (approx(0.4517544), approx(0.2511767))
    assert distortion_perception(0, t.mmse, t.perfect_perception_distance) == approx(0.5148441)
    assert t.inherent_uncertainty == approx(0.1752192)


def test_lagrangian_responses():
    p_star = 0.3
    assert list(perception_response_w2([0, 0.2, 1.0], p_star)) == [approx(0.3), approx(0.2), approx(0.0)]
    assert list(perception_response_w2_squared([0, 1, 3], p_star)) == [approx(0.3), approx(0.15), approx(0.075)]


def test_o5_blau_michaeli_example_1():
    mse, kl = linear_estimator_risks(0.5, 1.0)
    assert mse == approx(0.5) and kl == pytest.approx(0.153426, abs=1e-6)
    assert linear_estimator_risks(1 / math.sqrt(2), 1.0) == (approx(0.5857864), approx(0.0))
    assert linear_estimator_risks(1 / 5, 2.0)[0] == approx(0.8)
    assert linear_estimator_risks(1 / math.sqrt(5), 2.0)[0] == approx(1.105573)
    curve = linear_estimator_curve(1.0)
    assert curve["a"][0] == approx(0.5) and curve["a"][-1] == approx(0.7071068)
    assert np.all(np.diff(curve["mse"]) > 0) and np.all(np.diff(curve["kl"]) < 0)  # the tradeoff


def test_o6_discrete_prior():
    risks = discrete_example_risks()
    assert risks["mmse"] == pytest.approx(0.4241869, abs=1e-6)
    assert risks["posterior_sampler"] == pytest.approx(0.8483738, abs=2e-6)
    assert risks["random_draw"] == approx(1.6)
    assert risks["map"] == pytest.approx(0.7076968, abs=1e-6)
    assert [discrete_posterior_mean(y) for y in (0.5, 1, 2)] == [approx(v) for v in (0.3384161, 0.6010457, 0.8688389)]


def test_linear_gaussian_posterior_reduces_to_denoising_and_matches_o4():
    """A = I: the posterior covariance is O4's Σ_{x|y}; the mean is the Wiener filter μ + W(y − μ)."""
    from tradeoffs.theory.gaussian import linear_gaussian_posterior, wiener_filter

    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=D)
    mean, y = torch.tensor([0.2, -0.1], dtype=D), torch.tensor([1.0, 0.5], dtype=D)
    post_mean, post_cov = linear_gaussian_posterior(mean, cov, torch.eye(2, dtype=D), 0.5, y)
    expected = torch.tensor([[0.2807018, 0.1315789], [0.1315789, 0.1710526]], dtype=D)
    torch.testing.assert_close(post_cov, expected, atol=2e-7, rtol=0)
    torch.testing.assert_close(post_mean, mean + wiener_filter(cov, 0.5) @ (y - mean))


def test_linear_gaussian_posterior_of_a_partial_observation():
    """Observing x1 exactly (A = [1, 0], σ² → 0) leaves x2 | x1 ~ N(μ2 + Σ21/Σ11 (x1 − μ1), Σ22 − Σ21²/Σ11)."""
    from tradeoffs.theory.gaussian import linear_gaussian_posterior

    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=D)
    post_mean, post_cov = linear_gaussian_posterior(
        torch.zeros(2, dtype=D), cov, torch.tensor([[1.0, 0.0]], dtype=D), 1e-12, torch.tensor([2.0], dtype=D)
    )
    torch.testing.assert_close(post_mean, torch.tensor([2.0, 1.2], dtype=D), atol=1e-9, rtol=0)
    assert post_cov[1, 1].item() == pytest.approx(0.5 - 0.36, abs=1e-9)
    assert post_cov[0, 0].item() == pytest.approx(0, abs=1e-9)


def test_o1_mean_of_k_posterior_samples_w2():
    one = torch.tensor([[1.0]], dtype=D)
    assert [k_average_w2(one, 1.0, k) for k in (1, 2, 4, 8)] == [
        approx(0.0),
        approx(0.1339746),
        approx(0.2094306),
        approx(0.25),
    ]
    assert k_average_w2(one, 1.0, 10**9) == approx(scalar(1.0, 1.0).perfect_perception_distance)  # k → ∞: X*


def test_mean_of_k_posterior_samples_matches_monte_carlo():
    """3-D correlated prior, σ² = 0.5: the mean of k exact posterior draws has covariance Σ_{X*} + Σ_{x|y}/k and
    MSE D*(1 + 1/k) (200 000 draws: 1 % on the covariance, 1 % on the MSE)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=D)
    prior, noise_var, n = a @ a.T + 0.3 * torch.eye(3, dtype=D), 0.5, 200_000
    post = posterior_covariance(prior, noise_var)
    x = torch.randn(n, 3, generator=g, dtype=D) @ torch.linalg.cholesky(prior).T
    y = x + noise_var**0.5 * torch.randn(n, 3, generator=g, dtype=D)
    x_star = y @ wiener_filter(prior, noise_var).T
    for k in (2, 4):
        deviations = torch.randn(n, k, 3, generator=g, dtype=D) @ torch.linalg.cholesky(post).T
        mean_k = x_star + deviations.mean(1)
        torch.testing.assert_close(torch.cov(mean_k.T), k_average_covariance(prior, noise_var, k), rtol=0.01, atol=0.01)
        mse = ((mean_k - x) ** 2).sum(1).mean()
        assert float(mse) == pytest.approx(k_average_mse(float(post.trace()), k), rel=0.01)
