from pathlib import Path

import pytest
import torch

from tradeoffs.core import runs
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import RunRecord, RunRefused, config_changes, load_checkpoint, plan_start, scalar_metrics


def test_config_changes_lists_changed_leaves():
    before = {"model": {"adv_weight": 0.0, "ema_decay": 0.999}, "seed": 0, "tags": []}
    after = {"model": {"adv_weight": 0.01, "ema_decay": 0.999}, "seed": 0, "tags": [], "new": 1}
    assert config_changes(before, after) == ["model.adv_weight: 0.0 -> 0.01", "new: None -> 1"]
    assert config_changes(before, before) == []


CONFIG = {"model": {"adv_weight": 0.1, "width": 8}, "trainer": {"max_epochs": 2}, "seed": 0, "ckpt_path": None}


def run_dir(tmp_path, finished: bool):
    """A run directory holding last.ckpt (trained with CONFIG) and, if finished, results.json."""
    (tmp_path / "checkpoints").mkdir()
    torch.save({"state_dict": {}, "config": CONFIG}, tmp_path / "checkpoints" / "last.ckpt")
    if finished:
        RunRecord({"val/distortion/mse": 0.5}).write(tmp_path)
    return tmp_path


def with_changes(**changes) -> dict:
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in CONFIG.items()}
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        config[section][key] = value
    return config


def test_a_fresh_directory_starts_fresh_or_names_the_missing_checkpoint(tmp_path):
    assert plan_start(None, tmp_path, CONFIG, "config") == plan_start("auto", tmp_path, CONFIG, "config")
    assert plan_start(None, tmp_path, CONFIG, "config").checkpoint_path is None
    with pytest.raises(ConfigError, match="ckpt_path=last: no such checkpoint file"):
        plan_start("last", tmp_path, CONFIG, "config")


def test_an_unfinished_run_resumes_with_auto_or_last_and_is_never_restarted(tmp_path):
    run = run_dir(tmp_path, finished=False)
    for setting in ("auto", "last", str(run / "checkpoints" / "last.ckpt")):
        start = plan_start(setting, run, with_changes(trainer__max_epochs=5), "config")
        assert start.resumes and start.checkpoint_path == run / "checkpoints" / "last.ckpt" and start.finished is None
    with pytest.raises(RunRefused, match="holds an unfinished run .*resume it with ckpt_path=auto"):
        plan_start(None, run, CONFIG, "config")


def test_a_resume_that_changes_the_experiment_is_refused_naming_the_keys(tmp_path):
    run = run_dir(tmp_path, finished=False)
    changed = with_changes(model__adv_weight=0.3, model__width=16)
    with pytest.raises(RunRefused, match=r"different model.adv_weight, model.width: .*model.warm_start="):
        plan_start("last", run, changed, "config")
    other = tmp_path.parent / f"{tmp_path.name}_new"
    start = plan_start(str(run / "checkpoints" / "last.ckpt"), other, changed, "config")  # another run's: allowed
    assert not start.resumes and start.checkpoint is not None


def test_a_finished_run_is_skipped_by_auto_and_refused_otherwise(tmp_path):
    run = run_dir(tmp_path, finished=True)
    assert plan_start("auto", run, with_changes(model__adv_weight=0.3), "config").finished.metrics == {
        "val/distortion/mse": 0.5
    }
    with pytest.raises(RunRefused, match="finished run .*ckpt_path=auto skips it"):
        plan_start(None, run, CONFIG, "config")
    with pytest.raises(RunRefused, match="finished run .*nothing to resume"):
        plan_start("last", run, with_changes(trainer__max_epochs=5), "config")


def test_scalar_metrics_keeps_json_standard():
    import torch

    assert scalar_metrics({"b": torch.tensor(1.5), "a": float("nan")}) == {"a": "nan", "b": 1.5}


class CreatesAFile:
    """Unpickling this object creates `path`: what a malicious checkpoint could do instead."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_a_checkpoint_that_would_run_code_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "_TRUSTED", set())
    marker, shared = tmp_path / "ran", tmp_path / "shared.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1)}, "payload": CreatesAFile(marker)}, shared)
    with pytest.raises(ConfigError, match=rf"ckpt_path={shared} .* can run code: refused; .*trusted_checkpoints="):
        load_checkpoint(shared)
    with pytest.raises(ConfigError, match="ckpt_path=.*refused"):  # training from it (ckpt_path=FILE)
        plan_start(str(shared), tmp_path / "run", CONFIG, "config")
    with pytest.raises(ConfigError, match="model.warm_start=.*refused"):
        load_checkpoint(shared, "model.warm_start")
    assert not marker.exists()
    runs.trust_checkpoints([str(shared)])  # the explicit opt-in: the file is unpickled fully, and its code runs
    assert torch.equal(load_checkpoint(shared)["state_dict"]["w"], torch.ones(1)) and marker.exists()
