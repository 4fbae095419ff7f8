"""Density and coverage (Naeem et al. 2020) against prdc's compute_prdc on the same features, on distributions with a
known answer, and as a measure of the engine."""

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.density_coverage import DensityCoverage, density_coverage
from tradeoffs.metrics.measure import Batch


def normal(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=generator_for(seed), dtype=torch.float64)


@pytest.mark.parametrize(("k", "shift", "scale"), [(5, 0.0, 1.0), (3, 0.4, 0.7), (8, 1.5, 1.3)])
def test_equals_prdc_on_the_same_features(k, shift, scale):
    real, fake = normal(400, 8, 1), scale * normal(350, 8, 2) + shift
    density, coverage = density_coverage(real, fake, k)
    expected = compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    assert density.item() == pytest.approx(expected["density"], abs=1e-12)
    assert coverage.item() == pytest.approx(expected["coverage"], abs=1e-12)


def test_one_distribution_gives_about_one_and_collapse_loses_coverage_not_density():
    real, same = normal(2000, 4, 3), normal(2000, 4, 4)
    density, coverage = density_coverage(real, same)
    assert 0.9 < density.item() < 1.1 and coverage.item() > 0.95
    collapsed = 0.05 * normal(2000, 4, 5)  # every restoration near the mode
    density, coverage = density_coverage(real, collapsed)
    assert density.item() > 0.5 and coverage.item() < 0.05  # in the balls near the mode, most balls unreached
    far = normal(2000, 4, 6) + 10
    assert density_coverage(real, far) == (0, 0)


def test_the_measure_streams_batches_and_names_bad_settings():
    real, fake = normal(300, 6, 7), normal(300, 6, 8) + 0.3
    measure = DensityCoverage(k=5)
    for start in range(0, 300, 64):
        batch = Batch(torch.zeros(1), None, torch.zeros(1), lambda x: x, real[start : start + 64])
        batch.__dict__["fake_features"] = fake[start : start + 64]  # the restorations' features of this batch
        measure.update(batch)
    computed = measure.compute()
    expected = compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    assert computed["density"].item() == pytest.approx(expected["density"], abs=1e-12)
    assert computed["coverage"].item() == pytest.approx(expected["coverage"], abs=1e-12)
    assert all(measure.keys[name].higher_is_better and measure.keys[name].floor for name in computed)
    with pytest.raises(ConfigError, match="metrics.measures.density_coverage: k=0"):
        DensityCoverage(k=0)
    assert np.isfinite([v.item() for v in computed.values()]).all()
