"""Sample-based divergences between feature sets (n, d): KID and sliced Wasserstein-2."""

import torch
from torch import Tensor
from torchmetrics.image.kid import poly_mmd

from tradeoffs.core.errors import EstimatorInputError


def kernel_inception_distance(
    real: Tensor, fake: Tensor, subsets: int = 50, subset_size: int = 1000, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """KID: unbiased MMD² with the cubic kernel k(x, y) = (xᵀy/d + 1)³, averaged over random subsets.

    Returns (mean, std) over `subsets` draws of min(subset_size, n) samples from each set. Unbiased, so it can be
    negative when the sets come from one distribution.
    """
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise EstimatorInputError(f"KID needs at least 2 samples per set, got {len(real)} and {len(fake)}")
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    values = []
    for _ in range(subsets):
        i = torch.randperm(len(real), generator=generator)[:size]
        j = torch.randperm(len(fake), generator=generator)[:size]
        values.append(poly_mmd(real[i], fake[j]))
    values = torch.stack(values)
    return values.mean(), values.std() if subsets > 1 else torch.zeros((), dtype=torch.float64)


def _quantiles(sorted_values: Tensor, n: int) -> Tensor:
    """Values of the empirical quantile function at (i + ½)/n, i < n, per column (linear interpolation)."""
    m = sorted_values.shape[0]
    if m == n:
        return sorted_values
    position = ((torch.arange(n, dtype=torch.float64) + 0.5) / n * m - 0.5).clamp(0, m - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=m - 1)
    weight = (position - low)[:, None]
    return (1 - weight) * sorted_values[low] + weight * sorted_values[high]


def sliced_wasserstein(
    a: Tensor, b: Tensor, num_projections: int = 256, generator: torch.Generator | None = None
) -> Tensor:
    """Sliced W2: sqrt(E_θ W2²(θᵀa, θᵀb)) over uniform unit directions θ (seeded), 1-D W2 by sorting.

    For isotropic Gaussians N(μ1, s1²I), N(μ2, s2²I): SW2² = ‖μ1 − μ2‖²/d + (s1 − s2)².
    """
    if min(len(a), len(b)) < 1:
        raise EstimatorInputError("sliced Wasserstein needs non-empty sample sets")
    a, b = a.to(torch.float64), b.to(torch.float64)
    theta = torch.randn(a.shape[1], num_projections, generator=generator, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    pa, pb = (a @ theta).sort(dim=0).values, (b @ theta).sort(dim=0).values
    n = max(len(a), len(b))
    return (_quantiles(pa, n) - _quantiles(pb, n)).square().mean().sqrt()
