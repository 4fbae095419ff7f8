"""End to end: `tradeoffs.baselines` on experiment=smoke writes one job per classical setting for the curve tool."""

import pytest

from tests.conftest import QUIET
from tradeoffs.assemble import compose_config
from tradeoffs.baselines import baselines
from tradeoffs.core.errors import ConfigError
from tradeoffs.curve import make_curves

pytestmark = pytest.mark.slow


def test_every_setting_is_a_labelled_job_and_finished_ones_are_kept(tmp_path):
    cfg = compose_config("baselines", ["experiment=smoke", *QUIET], tmp_path / "out")
    done = baselines(cfg)
    assert "tv w=0.1" in done and "gaussian σ=1" in done
    assert all("val/perception/fd" in r.metrics and "val/distortion/mse_subset" in r.metrics for r in done.values())
    result = make_curves(
        tmp_path / "out", tmp_path / "out", "val/perception/fd", "val/distortion/mse_subset", wandb_mode="disabled"
    )
    assert {r["label"] for r in result["rows"]} == set(done)
    assert (tmp_path / "out" / "tv_w=0.1" / "images" / "val_epoch000.png").is_file()
    again = baselines(compose_config("baselines", ["experiment=smoke", *QUIET], tmp_path / "out"))
    assert {k: v.metrics for k, v in again.items()} == {k: v.metrics for k, v in done.items()}


def test_a_degradation_without_baselines_is_named(tmp_path):
    cfg = compose_config("baselines", ["experiment=smoke", *QUIET, "degradation=blur"], tmp_path / "out")
    with pytest.raises(ConfigError, match="no classical baselines for degradation"):
        baselines(cfg)
