"""End to end: `tradeoffs.traverse` on a trained smoke checkpoint writes job dirs the curve tool reads."""

import json

import pytest

from tests.conftest import QUIET
from tradeoffs.assemble import compose_config
from tradeoffs.core.errors import ConfigError
from tradeoffs.curve import MSE, make_curves
from tradeoffs.train import train
from tradeoffs.traverse import traverse

PREDICTED = "val/distortion/mse_predicted"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two stochastic smoke GANs (λ = 0.01 and λ = 0) and a denoiser of another noise level."""
    root, paths = tmp_path_factory.mktemp("traverse"), {}
    for name, extra in {
        "perceptual": [],
        "mmse": ["model.adv_weight=0"],
        "other_noise": ["model.adv_weight=0", "degradation.sigma=0.3", "trainer.max_epochs=1"],
    }.items():
        overrides = ["experiment=smoke", *QUIET, "model.generator.noise_channels=1", "logger=csv", *extra]
        paths[name] = train(compose_config("train", overrides, root / name)).checkpoint
    return paths


def run(tmp_path, name, *overrides):
    return traverse(compose_config("traverse", [*overrides, "accelerator=cpu"], tmp_path / name))


def test_averaging_writes_one_job_per_k_with_the_prediction_and_resumes(checkpoints, tmp_path):
    results = run(tmp_path, "avg", f"ckpt_path={checkpoints['perceptual']}", "traversal.k=[1,2,4]")
    assert list(results) == ["k=1", "k=2", "k=4"]
    first = results["k=1"].metrics
    for k, job in zip((1, 2, 4), results.values(), strict=True):
        a, b = first["val/uncertainty/mse_k_a"], first["val/uncertainty/mse_k_b"]
        assert job.metrics[PREDICTED] == pytest.approx(a + b / k)
        assert (tmp_path / "avg" / f"k={k}" / ".hydra" / "overrides.yaml").is_file()
    assert first[PREDICTED] == pytest.approx(first["val/uncertainty/mse"], rel=1e-4)  # a + b = MSE of one sample
    mse = [job.metrics["val/uncertainty/mse"] for job in results.values()]
    assert mse[0] > mse[1] > mse[2]  # averaging samples lowers distortion
    written = (tmp_path / "avg" / "k=2" / "results.json").read_text()
    again = run(tmp_path, "avg", f"ckpt_path={checkpoints['perceptual']}", "traversal.k=[1,2,4]")
    assert (tmp_path / "avg" / "k=2" / "results.json").read_text() == written  # finished settings are skipped
    assert again["k=2"].as_dict() == json.loads(written)


def test_references_and_interpolation_appear_on_the_curves(checkpoints, tmp_path):
    ckpt = f"ckpt_path={checkpoints['perceptual']}"
    refs = run(tmp_path, "refs", ckpt, "traversal=references")
    assert list(refs) == ["estimator=observation", "estimator=clean_draw", "estimator=model"]  # no exact_* here
    observation = refs["estimator=observation"].metrics
    assert observation["val/uncertainty/mse_k_b"] == 0.0  # a deterministic estimator: no spread across samples
    interp = run(
        tmp_path,
        "interp",
        ckpt,
        "traversal=interpolation",
        f"traversal.mmse_ckpt_path={checkpoints['mmse']}",
        "traversal.alpha=[0.0,1.0]",
    )
    assert interp["alpha=0.0"].metrics["val/distortion/mse"] != interp["alpha=1.0"].metrics["val/distortion/mse"]
    result = make_curves([tmp_path / "refs", tmp_path / "interp"], tmp_path / "curves", "val/perception/fd", MSE)
    labels = {r["label"] for r in result["rows"]}
    assert {"observation", "clean_draw", "model", "α=0.0", "α=1.0"} <= labels


def test_transport_fits_and_runs(checkpoints, tmp_path):
    results = run(
        tmp_path,
        "ot",
        f"ckpt_path={checkpoints['perceptual']}",
        "traversal=transport",
        "traversal.alpha=[0.0,1.0]",
        "traversal.fit_images=4",
    )
    no_transport = run(
        tmp_path,
        "model",
        f"ckpt_path={checkpoints['perceptual']}",
        "traversal=references",
        "traversal.estimators=[model]",
    )
    model_mse = no_transport["estimator=model"].metrics["val/distortion/mse"]
    assert results["alpha=1.0"].metrics["val/distortion/mse"] == pytest.approx(model_mse)  # α = 1: no transport
    assert results["alpha=0.0"].metrics["val/distortion/mse"] != pytest.approx(model_mse)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["traversal=interpolation", "traversal.mmse_ckpt_path=other_noise"],
            r"restores GaussianNoise\(low=0.3, high=0.3\), this run's degradation is GaussianNoise\(low=0.1",
        ),
        (["traversal=interpolation"], "traversal.mmse_ckpt_path is not set"),
        (["traversal=interpolation", "traversal.mmse_ckpt_path=/nowhere.ckpt"], "traversal.mmse_ckpt_path"),
        (["traversal=references", "traversal.estimators=[oracle]"], "unknown estimator 'oracle'"),
        (["traversal=transport", "traversal.patch_size=5"], "traversal.patch_size=5"),
    ],
)
def test_bad_requests_name_the_key(checkpoints, tmp_path, overrides, message):
    overrides = [o.replace("=other_noise", f"={checkpoints['other_noise']}") for o in overrides]
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, "bad", f"ckpt_path={checkpoints['perceptual']}", *overrides)
