"""Density and coverage (Naeem et al. 2020) in the engine's feature space: precision and recall made robust to
outliers, on the k-NN balls of the reference features only.

With r_i the distance from reference feature i to its k-th nearest neighbour among the references (N of them) and M
restored features x̂_j: density = (1 / kM) Σ_j Σ_i 1[‖x̂_j − x_i‖ < r_i] (how many reference balls each restoration
falls in, ≈ 1 when the two distributions agree, above 1 where restorations crowd dense regions), and coverage =
(1 / N) Σ_i 1[min_j ‖x̂_j − x_i‖ < r_i] (the share of reference balls that some restoration reaches: mode dropping
lowers it). Higher is better for both.
"""

import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.metrics.measure import Key
from tradeoffs.metrics.precision_recall import PrecisionRecall, knn_radii

_CHUNK = 2048  # rows of a distance matrix held at once


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
    """(density, coverage) of fake features (m, d) against real features (n, d), Euclidean distances in float64."""
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    radii = knn_radii(real, k)
    inside = torch.zeros(len(real), dtype=torch.float64, device=real.device)  # restorations in each reference ball
    for chunk in fake.split(_CHUNK):
        inside += (torch.cdist(chunk, real) < radii).sum(dim=0)
    return inside.sum() / (k * len(fake)), (inside > 0).to(torch.float64).mean()


class DensityCoverage(PrecisionRecall):
    """`density` and `coverage` of the restored features against the reference features (floors: clean vs
    clean), on at most `max_points` features per set (a seeded subsample), as `PrecisionRecall` keeps them."""

    keys = {
        "density": Key("perception", higher_is_better=True, floor=True),
        "coverage": Key("perception", higher_is_better=True, floor=True),
    }

    def __init__(self, k: int = 5, max_points: int = 10000, seed: int = 0) -> None:
        if k < 1 or max_points <= k:
            raise ConfigError(f"metrics.measures.density_coverage: k={k} must be >= 1 and < max_points={max_points}")
        super().__init__(k, max_points, seed)

    def compute(self) -> dict[str, Tensor]:
        real, fake = (self.subsample(torch.cat(s), i) for i, s in enumerate((self.real, self.fake)))
        density, coverage = density_coverage(real, fake, self.k)
        return {"density": density, "coverage": coverage}
