import pytest

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import config_changes, resolve_checkpoint, scalar_metrics


def test_config_changes_lists_changed_leaves():
    before = {"model": {"adv_weight": 0.0, "ema_decay": 0.999}, "seed": 0, "tags": []}
    after = {"model": {"adv_weight": 0.01, "ema_decay": 0.999}, "seed": 0, "tags": [], "new": 1}
    assert config_changes(before, after) == ["model.adv_weight: 0.0 -> 0.01", "new: None -> 1"]
    assert config_changes(before, before) == []


def test_resolve_checkpoint(tmp_path):
    assert resolve_checkpoint(None, tmp_path) is None
    with pytest.raises(ConfigError, match="ckpt_path=last: no such checkpoint file"):
        resolve_checkpoint("last", tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert resolve_checkpoint("last", tmp_path) == tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(ConfigError, match="already holds checkpoints/last.ckpt"):
        resolve_checkpoint(None, tmp_path)


def test_scalar_metrics_keeps_json_standard():
    import torch

    assert scalar_metrics({"b": torch.tensor(1.5), "a": float("nan")}) == {"a": "nan", "b": 1.5}
