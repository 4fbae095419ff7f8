"""A measurement that cannot be made is one EstimatorInputError naming the stage and the measure, not a traceback."""

import pytest
import torch

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.gaussian import sqrtm_psd
from tradeoffs.metrics.engine import named_values
from tradeoffs.metrics.measure import Key, Measure


class Degenerate(Measure):
    """A Fréchet-style measure whose feature covariance has NaN entries (what too few images can give)."""

    keys = {"fd": Key("perception")}

    def update(self, batch) -> None: ...

    def compute(self):
        covariance = torch.full((4, 4), float("nan"), dtype=torch.float64)
        return {"fd": sqrtm_psd(covariance).trace()}


def test_a_covariance_that_cannot_be_factorised_is_one_line_naming_the_measure():
    with pytest.raises(torch.linalg.LinAlgError):
        Degenerate().compute()  # what the engine receives
    with pytest.raises(EstimatorInputError, match="val: Degenerate cannot factorise .*metrics.num_images"):
        named_values([Degenerate()], "val")
