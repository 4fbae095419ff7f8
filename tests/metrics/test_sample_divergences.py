import math

import pytest
import torch

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.functional import kernel_inception_distance, sliced_wasserstein


def test_kid_of_one_distribution_averages_to_zero():
    """Unbiased MMD²: over independent pairs of sets from one distribution, the mean is 0 within 3 SE."""
    values = []
    for seed in range(20):
        g = generator_for(seed)
        a, b = torch.randn(200, 8, generator=g), torch.randn(200, 8, generator=g)
        values.append(kernel_inception_distance(a, b, subsets=1, subset_size=200, generator=g)[0])
    values = torch.stack(values)
    assert abs(values.mean().item()) < 3 * values.std().item() / math.sqrt(len(values))
    assert (values < 0).any()  # unbiased: negative values happen


def test_kid_grows_with_the_difference():
    g = generator_for(1)
    a = torch.randn(300, 8, generator=g)
    kids = [
        kernel_inception_distance(a, torch.randn(300, 8, generator=g) * s, subsets=10, generator=g)[0].item()
        for s in (1.0, 1.5, 2.5)
    ]
    assert kids[0] < kids[1] < kids[2]
    mean, std = kernel_inception_distance(a, a + 1.0, subsets=5, subset_size=100, generator=g)
    assert mean > 10 * std > 0


@pytest.mark.parametrize(("n1", "n2"), [(6000, 6000), (6000, 4500)])
def test_sliced_wasserstein_isotropic_closed_form(n1, n2):
    d, s1, s2 = 8, 1.0, 0.6
    g = generator_for(2)
    mu1, mu2 = torch.zeros(d), torch.linspace(-0.5, 0.5, d)
    a = mu1 + s1 * torch.randn(n1, d, generator=g)
    b = mu2 + s2 * torch.randn(n2, d, generator=g)
    expected = math.sqrt((mu1 - mu2).square().sum().item() / d + (s1 - s2) ** 2)
    got = sliced_wasserstein(a, b, num_projections=256, generator=generator_for(3)).item()
    assert got == pytest.approx(expected, rel=0.03)


def test_sliced_wasserstein_is_seeded_and_zero_on_identical_sets():
    a = torch.randn(100, 4, generator=generator_for(4))
    b = torch.randn(100, 4, generator=generator_for(5))
    assert sliced_wasserstein(a, a, generator=generator_for(0)).item() == 0.0
    assert sliced_wasserstein(a, b, generator=generator_for(0)) == sliced_wasserstein(a, b, generator=generator_for(0))
    with pytest.raises(EstimatorInputError):
        kernel_inception_distance(a[:1], b[:1])


@pytest.mark.parametrize(("n", "subsets", "m"), [(600, 4, 100), (2500, 700, 100)])
def test_kid_equals_torchmetrics_poly_mmd_on_the_same_subsets(n, subsets, m):
    """Both routes (a Gram matrix per subset; one pass over the blocks of the whole Gram matrix once the subsets
    cover more pairs than the sets have) give the mean and std of torchmetrics' float64 poly_mmd over the same
    draws, to 1e-9 (the Gram matrices are float32)."""
    from torchmetrics.image.kid import poly_mmd

    a = torch.randn(n, 16, generator=generator_for(5), dtype=torch.float64)
    b = 0.9 * torch.randn(n, 16, generator=generator_for(6), dtype=torch.float64) + 0.1
    mean, std = kernel_inception_distance(a, b, subsets, m, generator=generator_for(7))
    g, values = generator_for(7), []
    for _ in range(subsets):
        i, j = torch.randperm(n, generator=g)[:m], torch.randperm(n, generator=g)[:m]
        values.append(poly_mmd(a[i].float().double(), b[j].float().double()))
    expected = torch.stack(values)
    assert mean.item() == pytest.approx(expected.mean().item(), abs=1e-9)
    assert std.item() == pytest.approx(expected.std().item(), abs=1e-9)
