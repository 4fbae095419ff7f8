"""Improved precision and recall (Kynkäänniemi et al. 2019; MATH.md §6) in the engine's feature space.

Each set's manifold is the union of balls around its points with radius r_k = the distance to the point's k-th
nearest neighbour in its own set. precision = share of restored features inside the reference manifold (do the
restorations look like clean images?); recall = share of reference features inside the restored manifold (do the
restorations cover the clean distribution, or collapse onto a few smooth outputs?). Higher is better for both.
"""

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError, EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.measure import Batch, Key, Measure

_SUBSAMPLE_STREAM = 0x9E
_CHUNK = 2048  # rows of a distance matrix held at once


def knn_radii(points: Tensor, k: int) -> Tensor:
    """Distance from each of points (n, d) to its k-th nearest neighbour among the others, float64."""
    if len(points) <= k:
        raise EstimatorInputError(f"precision/recall with k={k} needs more than {k} points per set, got {len(points)}")
    radii = []
    for chunk in points.split(_CHUNK):
        distances = torch.cdist(chunk, points)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the point itself (0)
    return torch.cat(radii)


def inside_manifold(queries: Tensor, points: Tensor, radii: Tensor) -> Tensor:
    """For each query, whether it lies within radii[j] of some points[j]: (m,) booleans."""
    return torch.cat([(torch.cdist(chunk, points) <= radii).any(dim=1) for chunk in queries.split(_CHUNK)])


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[Tensor, Tensor]:
    """(precision, recall) of fake features against real features, (n, d) each, Euclidean distances in float64."""
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    precision = inside_manifold(fake, real, knn_radii(real, k)).to(torch.float64).mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k)).to(torch.float64).mean()
    return precision, recall


class PrecisionRecall(nn.Module, Measure):
    """`precision` and `recall` of the restored features against the reference features (floors: clean vs
    clean, below 1 and falling with the feature dimension). At most `max_points` features per set enter (a seeded
    subsample), which bounds the O(n²) distance computations."""

    keys = {
        "precision": Key("perception", higher_is_better=True, floor=True),
        "recall": Key("perception", higher_is_better=True, floor=True),
    }

    def __init__(self, k: int = 3, max_points: int = 10000, seed: int = 0) -> None:
        super().__init__()
        if k < 1 or max_points <= k:
            raise ConfigError(f"metrics.measures.precision_recall: k={k} must be >= 1 and < max_points={max_points}")
        self.k, self.max_points, self.seed = k, max_points, seed
        self.reset()

    def reset(self) -> None:
        self.real: list[Tensor] = []
        self.fake: list[Tensor] = []

    def update(self, batch: Batch) -> None:
        self.real.append(batch.real_features.to(torch.float64))
        self.fake.append(batch.fake_features.to(torch.float64))

    def compute(self) -> dict[str, Tensor]:
        real, fake = (self.subsample(torch.cat(s), i) for i, s in enumerate((self.real, self.fake)))
        precision, recall = precision_recall(real, fake, self.k)
        return {"precision": precision, "recall": recall}

    def subsample(self, features: Tensor, which: int) -> Tensor:
        if len(features) <= self.max_points:
            return features
        order = torch.randperm(len(features), generator=generator_for(self.seed, _SUBSAMPLE_STREAM, which))
        return features[order[: self.max_points].to(features.device)]
