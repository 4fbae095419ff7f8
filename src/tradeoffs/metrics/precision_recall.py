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
_UNIT = 2.0**-24  # float32 unit round-off


class Points:
    """Feature vectors (n, d) with what the distance computations reuse: float32 and float64 copies and the float32
    squared norms. Squared distances come from one float32 matrix product ‖a‖² + ‖b‖² − 2aᵀb; its rounding error is
    below 4·d·u·(‖a‖² + ‖b‖²) (u: the float32 unit round-off), and a decision that lies within that bound of its
    threshold is redone exactly in float64: every decision is the float64 one, at float32 speed."""

    def __init__(self, features: Tensor) -> None:
        self.exact = features.to(torch.float64)
        self.fast = features.to(torch.float32)
        self.norms = self.fast.square().sum(1)
        self.slack = 4 * features.shape[1] * _UNIT  # the bound per unit of ‖a‖² + ‖b‖²

    def __len__(self) -> int:
        return len(self.exact)

    def squared_distances(self, start: int, other: "Points") -> Tensor:
        """float32 squared distances of rows start:start+_CHUNK to every point of `other`."""
        rows, norms = self.fast[start : start + _CHUNK], self.norms[start : start + _CHUNK, None]
        return torch.addmm(norms + other.norms, rows, other.fast.T, alpha=-2)

    def bound(self, start: int, other: "Points") -> Tensor:
        """For each row start:start+_CHUNK, the rounding bound of its float32 distances to any point of `other`."""
        return self.slack * (self.norms[start : start + _CHUNK] + other.norms.max())

    def exact_squared(self, rows: Tensor, other: "Points", cols: Tensor) -> Tensor:
        return (self.exact[rows] - other.exact[cols]).square().sum(1)

    def own_squared_distances(self) -> Tensor:
        """The float32 squared distances between all points, (n, n): the blocks on and above the diagonal are
        computed, those below copied (half the products of a row-by-row pass)."""
        n, out = len(self), torch.empty(len(self), len(self))
        for r in range(0, n, _CHUNK):
            block = torch.addmm(
                self.norms[r : r + _CHUNK, None] + self.norms[r:], self.fast[r : r + _CHUNK], self.fast[r:].T, alpha=-2
            )
            out[r : r + _CHUNK, r:] = block
            out[r + _CHUNK :, r : r + _CHUNK] = block[:, _CHUNK:].T
        return out


def knn_radii(points: Tensor | Points, k: int) -> Tensor:
    """Distance from each of points (n, d) to its k-th nearest neighbour among the others, float64 (exact)."""
    points = points if isinstance(points, Points) else Points(points)
    if len(points) <= k:
        raise EstimatorInputError(f"precision/recall with k={k} needs more than {k} points per set, got {len(points)}")
    radii, everyone = [], points.own_squared_distances()
    for start in range(0, len(points), _CHUNK):
        distances, margin = everyone[start : start + _CHUNK], 2 * points.bound(start, points)
        nearest, cols = distances.topk(min(k + 2, len(points)), dim=1, largest=False)  # the 1st: the point itself
        above = nearest[:, k + 1] if k + 2 <= len(points) else torch.full_like(margin, torch.inf)
        known = (nearest[:, k] - nearest[:, k - 1] > margin) & (above - nearest[:, k] > margin)
        rows = torch.arange(start, start + len(distances))
        squared = points.exact_squared(rows, points, cols[:, k])  # the k-th neighbour, when its rank is certain
        for row in (~known).nonzero().flatten().tolist():  # near-ties: every neighbour that may rank k-th
            candidates = (distances[row] <= nearest[row, k] + margin[row]).nonzero().flatten()
            exact = points.exact_squared(torch.full_like(candidates, start + row), points, candidates)
            squared[row] = exact.kthvalue(k + 1).values
        radii.append(squared.sqrt())
    return torch.cat(radii)


def _within_exactly(point: int, points: Points, others: Points, squared_radii: Tensor) -> bool:
    """Whether points[point] lies within radius j of some others[j], decided in float64 for every j its float32
    distance cannot rule out."""
    distances = torch.addmv(points.norms[point] + others.norms, others.fast, points.fast[point], alpha=-2)
    bound = points.slack * (points.norms[point] + others.norms)
    candidates = (distances - squared_radii.to(torch.float32) <= bound).nonzero().flatten()
    exact = points.exact_squared(torch.full_like(candidates, point), others, candidates)
    return bool((exact <= squared_radii[candidates]).any())


def memberships(a: Points, b: Points, radii_a: Tensor, radii_b: Tensor) -> tuple[Tensor, Tensor]:
    """(for each point of a: inside some ball of b, ‖a_i − b_j‖ ≤ radii_b[j]; for each point of b: inside some
    ball of a), exact, from one pass over the float32 distances between the two sets (row and column minima of the
    distance minus the radius); the few undecided points are redone in float64."""
    squared_a, squared_b = radii_a.to(torch.float64).square(), radii_b.to(torch.float64).square()
    threshold_b = squared_b.to(torch.float32)
    a_gap, b_gap, b_bound = [], torch.full((len(b),), torch.inf), b.slack * (b.norms + a.norms.max())
    for start in range(0, len(a), _CHUNK):
        distances = a.squared_distances(start, b)
        a_gap.append((distances - threshold_b).amin(1) / a.bound(start, b))
        to_a = distances.sub_(squared_a[start : start + _CHUNK, None].to(torch.float32))
        b_gap = torch.minimum(b_gap, to_a.amin(0) / b_bound)
    decided = []
    for gap, points, others, radii in ((torch.cat(a_gap), a, b, squared_b), (b_gap, b, a, squared_a)):
        inside = gap < -1
        for point in ((gap >= -1) & (gap <= 1)).nonzero().flatten().tolist():
            inside[point] = _within_exactly(point, points, others, radii)
        decided.append(inside)
    return decided[0], decided[1]


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[Tensor, Tensor]:
    """(precision, recall) of fake features against real features, (n, d) each, Euclidean distances (exact):
    precision = share of fake features inside the real manifold, recall = share of real inside the fake one."""
    real, fake = Points(real), Points(fake)
    recalled, precise = memberships(real, fake, knn_radii(real, k), knn_radii(fake, k))
    return precise.to(torch.float64).mean(), recalled.to(torch.float64).mean()


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
