"""End to end: `tradeoffs.wrap` turns networks trained elsewhere into checkpoints that evaluate, traverse and the
curve tool read, measured on an experiment's own data."""

import json

import pytest
import torch

from tests.conftest import QUIET
from tests.models.test_wrapped import conv_weights
from tradeoffs.assemble import compose_config
from tradeoffs.core.errors import ConfigError
from tradeoffs.curve import make_curves
from tradeoffs.evaluate import evaluate
from tradeoffs.traverse import traverse
from tradeoffs.wrap import wrap

pytestmark = pytest.mark.slow

CONV = [
    "wrapped.network._target_=torch.nn.Conv2d",
    "+wrapped.network.in_channels=1",
    "+wrapped.network.out_channels=1",
    "+wrapped.network.kernel_size=3",
    "+wrapped.network.padding=1",
]
NOISY_IDENTITY = [  # network(y, z) = y + 0.05·z: mean of the samples = y, per-pixel variance 0.05²
    "wrapped.network._target_=tests.models.test_wrapped.SignalPlusNoise",
    "+wrapped.network.scale=0.05",
    "wrapped.noise_channels=1",
    "wrapped.noise_input=argument",
]


def run_wrap(out, *overrides):
    return wrap(compose_config("wrap", ["experiment=smoke", *QUIET, "accelerator=cpu", *overrides], out))


def test_a_wrapped_network_is_a_checkpoint_evaluate_reproduces_without_its_weights_file(tmp_path):
    weights = tmp_path / "conv.pth"
    torch.save({"params_ema": conv_weights()}, weights)
    overrides = ["name=conv", *CONV, f"wrapped.weights={weights}", "wrapped.weights_key=params_ema"]
    record = run_wrap(tmp_path / "methods", *overrides)
    job = tmp_path / "methods" / "conv"
    assert record.checkpoint == str(job / "checkpoints" / "last.ckpt")
    assert torch.load(record.checkpoint, weights_only=True)["tradeoffs_config"]["model"]["weights"] is None
    assert record.extra["weights"] == str(weights) and record.extra["network"] == "torch.nn.Conv2d"
    assert (job / "images" / "val_epoch000.png").is_file()
    weights.rename(tmp_path / "moved.pth")  # the checkpoint carries the tensors
    evaluated = evaluate(
        compose_config("evaluate", [f"ckpt_path={record.checkpoint}", "accelerator=cpu"], tmp_path / "e")
    )
    assert evaluated.metrics == record.metrics
    rows = make_curves(
        tmp_path / "methods",
        tmp_path / "methods",
        "val/perception/fd",
        "val/distortion/mse_subset",
        wandb_mode="disabled",
    )["rows"]
    assert [r["label"] for r in rows] == ["conv"]


def test_a_finished_wrap_is_kept_and_its_name_never_reused_for_other_weights(tmp_path):
    weights = tmp_path / "conv.pth"
    torch.save(conv_weights(), weights)
    overrides = ["name=conv", *CONV, f"wrapped.weights={weights}"]
    first = run_wrap(tmp_path / "methods", *overrides)
    written = (tmp_path / "methods" / "conv" / "results.json").read_text()
    assert run_wrap(tmp_path / "methods", *overrides).as_dict() == json.loads(written) == first.as_dict()
    torch.save(conv_weights(seed=3), weights)
    with pytest.raises(ConfigError, match=r"last.ckpt wraps another network \(the weights differ\): choose another"):
        run_wrap(tmp_path / "methods", *overrides)
    with pytest.raises(ConfigError, match=r"wraps another network \(model.value_range: \[0.0, 1.0\] -> \[-1, 1\]"):
        run_wrap(tmp_path / "methods", *overrides, "wrapped.value_range=[-1,1]")
    assert (tmp_path / "methods" / "conv" / "results.json").read_text() == written


def test_a_stochastic_network_s_spread_is_measured_and_traversed(tmp_path):
    """y + 0.05·z on σ = 0.1 noise: MSE_k = a + b/k with a = σ² = 0.01 (the mean is y) and b = 0.05² = 0.0025."""
    record = run_wrap(tmp_path / "methods", "name=noisy", *NOISY_IDENTITY, "metrics.num_samples=8")
    metrics = record.metrics
    assert metrics["val/uncertainty/mse_k_b"] == pytest.approx(0.05**2, rel=0.05)
    assert metrics["val/uncertainty/mse_k_a"] == pytest.approx(0.1**2, rel=0.15)
    assert metrics["val/uncertainty/pixel_std"] == pytest.approx(0.05, rel=0.05)
    averaged = traverse(
        compose_config(
            "traverse", [f"ckpt_path={record.checkpoint}", "traversal.k=[1,4]", "accelerator=cpu"], tmp_path / "avg"
        )
    )
    assert averaged["k=4"].metrics["val/uncertainty/mse"] < averaged["k=1"].metrics["val/uncertainty/mse"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["name=up", "wrapped.network._target_=torch.nn.Upsample", "+wrapped.network.scale_factor=2"],
            r"model.network returned \(1, 1, 48, 48\) for an input of \(1, 1, 24, 24\), the clean images are",
        ),
        (["name=x", *CONV, "wrapped.weights=nowhere.pth"], "model.weights=nowhere.pth: no such file"),
        (["name=a/b", *CONV], "name='a/b': use letters"),
        (["name=x", *CONV, "split=train"], "split must be 'val' or 'test'"),
    ],
)
def test_bad_wraps_are_one_line_naming_the_key(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run_wrap(tmp_path / "methods", *overrides)
