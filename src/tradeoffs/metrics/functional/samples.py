"""Sample-based divergences between feature sets (n, d): KID and sliced Wasserstein-2."""

import torch
from torch import Tensor

from tradeoffs.core.errors import EstimatorInputError

_BLOCK = 1000  # rows and columns of a Gram block


def _cubic_kernel(x: Tensor, y: Tensor) -> Tensor:
    """k(x_i, y_j) = (x_iᵀy_j/d + 1)³ for float32 rows: the Gram matrix in float32 (as torch-fidelity), scaled and
    shifted inside the product."""
    return torch.addmm(x.new_ones(1), x, y.T, alpha=1 / x.shape[1]).pow_(3)


def _subset_kernel_sums(x: Tensor, y: Tensor, rows: Tensor, cols: Tensor, same: bool) -> Tensor:
    """For each subset s, Σ k(x_i, y_j) over i ∈ rows[s], j ∈ cols[s] (i ≠ j when `same`: x is y, rows is cols),
    float64 sums.

    One pass over the blocks of the whole Gram matrix (the upper triangle when `same`), each block reduced for every
    subset at once as u_sᵀ K v_s with the subsets' indicator vectors: cheaper than a Gram matrix per subset once the
    subsets together cover more pairs than the sets have (subsets·m² ≥ n_x·n_y)."""
    count = len(rows)
    u = torch.zeros(len(x), count, dtype=x.dtype).scatter_(0, rows.T, 1.0)
    v = u if same else torch.zeros(len(y), count, dtype=y.dtype).scatter_(0, cols.T, 1.0)
    totals = torch.zeros(count, dtype=torch.float64)
    for r in range(0, len(x), _BLOCK):
        for c in range(r if same else 0, len(y), _BLOCK):
            kernel = _cubic_kernel(x[r : r + _BLOCK], y[c : c + _BLOCK])
            part = ((u[r : r + _BLOCK].T @ kernel) * v[c : c + _BLOCK].T).sum(1, dtype=torch.float64)
            if same and c == r:
                part -= (u[r : r + _BLOCK] * kernel.diagonal()[:, None]).sum(0, dtype=torch.float64)
            totals += 2 * part if same and c > r else part
    return totals


def _kernel_sum(x: Tensor, y: Tensor, same: bool = False) -> Tensor:
    """Σ_ij k(x_i, y_j) over one subset pair (i ≠ j when `same`), float64 sum."""
    kernel = _cubic_kernel(x, y)
    total = kernel.sum(dtype=torch.float64)
    return total - kernel.diagonal().sum(dtype=torch.float64) if same else total


def kernel_inception_distance(
    real: Tensor, fake: Tensor, subsets: int = 50, subset_size: int = 1000, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """KID: unbiased MMD² with the cubic kernel k(x, y) = (xᵀy/d + 1)³, averaged over random subsets.

    Returns (mean, std) over `subsets` draws of m = min(subset_size, n) samples from each set:
    MMD² = Σ_{i≠j} k(x_i, x_j)/(m(m−1)) + Σ_{i≠j} k(y_i, y_j)/(m(m−1)) − 2 Σ_ij k(x_i, y_j)/m². Unbiased, so it can
    be negative when the sets come from one distribution.
    """
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise EstimatorInputError(f"KID needs at least 2 samples per set, got {len(real)} and {len(fake)}")
    real, fake = real.to(torch.float32), fake.to(torch.float32)
    draws = [
        (torch.randperm(len(real), generator=generator)[:m], torch.randperm(len(fake), generator=generator)[:m])
        for _ in range(subsets)
    ]
    rows, cols = (torch.stack(side) for side in zip(*draws, strict=True))
    if subsets * m * m >= len(real) * len(fake):
        xx, yy = (_subset_kernel_sums(f, f, i, i, same=True) for f, i in ((real, rows), (fake, cols)))
        xy = _subset_kernel_sums(real, fake, rows, cols, same=False)
    else:
        pairs = [(real[i], fake[j]) for i, j in draws]
        xx, yy, xy = (
            torch.stack([_kernel_sum(a, b, same) for a, b in parts])
            for parts, same in (([(x, x) for x, _ in pairs], True), ([(y, y) for _, y in pairs], True), (pairs, False))
        )
    values = (xx + yy) / (m * (m - 1)) - 2 * xy / m**2
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
