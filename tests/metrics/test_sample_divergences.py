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
