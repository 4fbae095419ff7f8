"""Reference estimators against MATH.md's oracles: O6 (discrete prior) and Gaussian denoising closed forms."""

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import gaussian_denoising
from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Downsample, GaussianNoise, Inpainting
from tradeoffs.data.discrete import DiscreteImages
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.data.natural import NaturalPhotos
from tradeoffs.models.reference import CleanDrawRestorer, ObservationRestorer, exact_posterior
from tradeoffs.theory.examples import discrete_example_risks
from tradeoffs.theory.gaussian import GaussianDenoisingTheory, posterior_covariance

SCALE, SIGMA = 0.25, 0.25  # DiscreteImages' default: X = 0.5 + 0.25·X', and noise σ = 0.25 = 0.25 × O6's σ = 1


def pixels_mse(restorer, x, y, seed=0):
    out = restorer.restore(y, 1, generator=torch.Generator().manual_seed(seed))[:, 0]
    return float((out.double() - x.double()).square().mean())


@pytest.fixture(scope="module")
def discrete_pairs():
    source = DiscreteImages(crop_size=16, num_val=1000)
    x = source.validation_images()
    y = GaussianNoise(SIGMA)(x, torch.Generator().manual_seed(1))
    return source, x, y


def test_discrete_posterior_mean_matches_o6_at_given_observations():
    mmse = exact_posterior(DiscreteImages(), GaussianNoise(SIGMA), "mmse")
    y = 0.5 + SCALE * torch.tensor([0.5, 1.0, 2.0]).view(1, 1, 1, 3)
    expected = 0.5 + SCALE * torch.tensor([0.3384161, 0.6010457, 0.8688389])
    torch.testing.assert_close(mmse.restore(y)[0, 0, 0, 0].double(), expected.double(), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("kind", "oracle"), [("mmse", 0.4241869), ("map", 0.7076968), ("sample", 0.8483738), ("clean_draw", 1.6)]
)
def test_discrete_estimators_have_the_risks_of_o6(discrete_pairs, kind, oracle):
    source, x, y = discrete_pairs  # 256 000 pixels: Monte-Carlo error < 1%
    degradation = GaussianNoise(SIGMA)
    if kind == "clean_draw":  # draws from the same 1000 images: its own image comes up with probability 1/1000
        restorer = CleanDrawRestorer(degradation, x)
    else:
        restorer = exact_posterior(source, degradation, kind)
    assert pixels_mse(restorer, x, y) / SCALE**2 == pytest.approx(oracle, rel=0.02)


def test_discrete_oracles_agree_with_the_integrated_risks():
    risks = discrete_example_risks()
    assert risks["mmse"] == pytest.approx(0.4241869, abs=1e-6)
    assert risks["map"] == pytest.approx(0.7076968, abs=1e-6)


@pytest.fixture(scope="module")
def gaussian_case():
    source, degradation, x, y = gaussian_denoising(correlation_length=2.0, seed=3)
    return source, degradation, x, y, GaussianDenoisingTheory.from_prior(source.covariance, 0.01)


def test_gaussian_mmse_and_map_reach_dstar_and_the_sampler_twice_it(gaussian_case):
    source, degradation, x, y, theory = gaussian_case
    per_pixel = theory.mmse / theory.dim
    assert pixels_mse(exact_posterior(source, degradation, "mmse"), x, y) == pytest.approx(per_pixel, rel=0.04)
    assert pixels_mse(exact_posterior(source, degradation, "map"), x, y) == pytest.approx(per_pixel, rel=0.04)
    assert pixels_mse(exact_posterior(source, degradation, "sample"), x, y) == pytest.approx(2 * per_pixel, rel=0.04)


def test_gaussian_posterior_samples_have_the_posterior_covariance(gaussian_case):
    source, degradation, _, y, _ = gaussian_case
    sampler = exact_posterior(source, degradation, "sample")
    draws = sampler.restore(y[:1], 8000, generator=torch.Generator().manual_seed(0))[0].flatten(1).double()
    expected = posterior_covariance(source.covariance, 0.01)
    error = torch.linalg.matrix_norm(draws.T.cov() - expected) / torch.linalg.matrix_norm(expected)
    assert error < 0.05
    mmse = exact_posterior(source, degradation, "mmse").restore(y[:1])[0, 0].flatten().double()
    torch.testing.assert_close(draws.mean(0), mmse, atol=4 * expected.diag().max().sqrt() / 8000**0.5, rtol=0)


def test_exact_posterior_is_none_without_a_closed_form():
    gaussian = GaussianImages(crop_size=4)
    assert exact_posterior(gaussian, GaussianNoise([0.05, 0.1]), "mmse") is None  # blind noise
    assert exact_posterior(gaussian, Downsample(2), "mmse") is None
    assert exact_posterior(NaturalPhotos(crop_size=16), GaussianNoise(0.1), "mmse") is None
    with pytest.raises(ConfigError, match="kind"):
        exact_posterior(gaussian, GaussianNoise(0.1), "median")


@pytest.mark.parametrize(
    ("degradation", "expected"),
    [
        (GaussianNoise(0.1), lambda y: y),
        (Inpainting("center", 0.5), lambda y: y[:, :1]),
        (Downsample(2), lambda y: F.interpolate(y, scale_factor=2, mode="bicubic", align_corners=False)),
    ],
)
def test_observation_restorer_is_g_inverse(degradation, expected):
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = degradation(x, torch.Generator().manual_seed(1))
    out = ObservationRestorer(degradation, 1).restore(y, 2)
    assert out.shape == (3, 2, 1, 8, 8)
    torch.testing.assert_close(out[:, 1], expected(y))


def test_clean_draws_are_seeded_and_ignore_the_observation():
    restorer = CleanDrawRestorer(GaussianNoise(0.1), DiscreteImages(crop_size=4).validation_images())
    y = torch.zeros(2, 1, 4, 4)
    a = restorer.restore(y, 3, generator=torch.Generator().manual_seed(5))
    b = restorer.restore(y + 1, 3, generator=torch.Generator().manual_seed(5))
    c = restorer.restore(y, 3, generator=torch.Generator().manual_seed(6))
    assert a.shape == (2, 3, 1, 4, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.25, 0.5, 0.75}


def test_discrete_source_rejects_bad_priors():
    with pytest.raises(ConfigError, match="probs"):
        DiscreteImages(values=[0, 1], probs=[0.5, 0.6])
    with pytest.raises(ConfigError, match="values"):
        DiscreteImages(values=[0, 1, 2], probs=[0.5, 0.5])
