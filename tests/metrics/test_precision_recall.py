"""Improved precision and recall (MATH.md §6) on distributions with a known answer, against a brute-force scipy
reference, and as a measure of the engine."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from tradeoffs.core.errors import ConfigError, EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.features import PatchFeatures
from tradeoffs.metrics.measure import Batch
from tradeoffs.metrics.precision_recall import PrecisionRecall, precision_recall

N = 1000


def normal(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=generator_for(seed), dtype=torch.float64)


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """MATH.md §6 written out with scipy's full distance matrices."""
    r_real = np.sort(cdist(real, real), axis=1)[:, k]
    r_fake = np.sort(cdist(fake, fake), axis=1)[:, k]
    precision = (cdist(fake, real) <= r_real[None, :]).any(axis=1).mean()
    recall = (cdist(real, fake) <= r_fake[None, :]).any(axis=1).mean()
    return precision, recall


def test_equals_the_brute_force_definition():
    real, fake = normal(300, 5, 1), 0.8 * normal(250, 5, 2) + 0.3
    precision, recall = precision_recall(real, fake, k=3)
    expected = reference(real.numpy(), fake.numpy(), 3)
    assert (precision.item(), recall.item()) == pytest.approx(expected, abs=1e-12)


def test_disjoint_supports_give_zero():
    real, fake = torch.rand(N, 16, generator=generator_for(3)), 5 + torch.rand(N, 16, generator=generator_for(4))
    precision, recall = precision_recall(real, fake)
    assert precision.item() == 0 and recall.item() == 0


def test_one_distribution_is_symmetric_high_and_falls_with_dimension():
    values = {}
    for d in (2, 16, 64):
        precision, recall = precision_recall(normal(N, d, 5), normal(N, d, 6))
        values[d] = (precision.item(), recall.item())
        assert abs(precision - recall) < 0.05  # the two sets play symmetric roles
    assert 0.95 < min(values[2]) and max(values[2]) < 1
    assert min(values[2]) > max(values[16]) and min(values[16]) > max(values[64])
    assert 0.5 < min(values[64])


def test_covering_half_the_support_keeps_precision_and_loses_recall():
    real = torch.rand(N, 16, generator=generator_for(7), dtype=torch.float64)
    fake = torch.rand(N, 16, generator=generator_for(8), dtype=torch.float64)
    fake[:, 0] /= 2  # the left half of the first coordinate only
    precision, recall = precision_recall(real, fake)
    _, same_recall = precision_recall(real, torch.rand(N, 16, generator=generator_for(9), dtype=torch.float64))
    assert precision > recall + 0.1
    assert recall < same_recall - 0.1


def test_a_collapse_onto_a_few_points_has_precision_and_no_recall():
    """An MMSE-like collapse: every restoration is one of five clean points (plus tiny jitter)."""
    real = normal(N, 8, 10)
    fake = real[torch.arange(N) % 5] + 1e-4 * normal(N, 8, 11)
    precision, recall = precision_recall(real, fake)
    assert precision.item() > 0.99 and recall.item() < 0.02


def test_identical_sets_are_the_ceiling():
    points = normal(200, 4, 12)
    assert [v.item() for v in precision_recall(points, points.clone())] == [1.0, 1.0]


def test_the_measure_streams_batches_and_subsamples_with_a_seed():
    features = PatchFeatures(1, 2)
    clean = torch.rand(64, 1, 8, 8, generator=generator_for(13))
    restored = (clean + 0.2 * torch.rand(64, 1, 8, 8, generator=generator_for(14))).clamp(0, 1)
    whole = PrecisionRecall(k=3)
    subsampled = [PrecisionRecall(k=3, max_points=500, seed=s) for s in (0, 0, 1)]
    for measure in (whole, *subsampled):
        for start in range(0, 64, 16):  # four batches: 16 images × 16 patches each
            x = clean[start : start + 16]
            measure.update(Batch(x, None, restored[start : start + 16, None], features, features(x)))
    assert whole.compute() == dict(
        zip(("precision", "recall"), precision_recall(features(clean), features(restored)), strict=True)
    )
    a, b, c = (m.compute() for m in subsampled)
    assert a == b and a != c  # the subsample is a pure function of the seed
    assert abs(a["recall"] - whole.compute()["recall"]) < 0.1


def test_bad_settings_and_too_few_points_are_named():
    with pytest.raises(ConfigError, match="metrics.measures.precision_recall: k=0 must be >= 1"):
        PrecisionRecall(k=0)
    with pytest.raises(EstimatorInputError, match="k=3 needs more than 3 points per set, got 3"):
        precision_recall(normal(3, 2, 0), normal(10, 2, 1))


@pytest.mark.parametrize("case", ["lattice ties", "large offset"])
def test_float32_distances_never_change_a_decision(case):
    """Points on an integer lattice (distances equal to radii: exact ties) and features far from the origin (float32
    cancellation in ‖a‖² + ‖b‖² − 2aᵀb) give the brute-force float64 answer exactly: undecided comparisons are
    redone in float64."""
    g = generator_for(11)
    if case == "lattice ties":
        real = torch.randint(0, 3, (400, 6), generator=g).double()
        fake = torch.randint(0, 3, (300, 6), generator=g).double()
    else:
        real = 1000 + normal(400, 32, 12)
        fake = 1000 + 0.9 * normal(300, 32, 13) + 0.05
    precision, recall = precision_recall(real, fake, k=3)
    assert (precision.item(), recall.item()) == reference(real.numpy(), fake.numpy(), 3)
