"""End-to-end runs of `experiment=smoke` through the real configs: outputs, resume, errors, evaluation."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf
from PIL import Image

from tests import wandb_records
from tradeoffs.assemble import compose_config
from tradeoffs.core.errors import ConfigError, NonFiniteLossError
from tradeoffs.evaluate import evaluate
from tradeoffs.models.gan import GANRestorer
from tradeoffs.train import train

pytestmark = pytest.mark.slow


def read_csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_cli(module: str, *overrides: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", module, *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def assert_wandb_tells_the_truth(run_file: Path, saved: dict) -> None:
    """The offline W&B run, decoded: every measured key's summary holds the final value of results.json (beside
    the best epoch's), images are charted against `epoch` as the metrics are, and the critic's loss is logged."""
    summary = wandb_records.summary(run_file)
    measured = {k: v for k, v in saved["metrics"].items() if k.startswith("val/") and isinstance(v, float)}
    assert len(measured) > 20
    for key, value in measured.items():  # the engine's keys keep last and best; Lightning's own keys the last
        last = summary[key]["last"] if isinstance(summary[key], dict) else summary[key]
        assert last == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert {"last", "min"} <= set(summary["val/perception/fd"]) and {"last", "max"} <= set(
        summary["val/perception/recall"]
    )
    rows = wandb_records.history(run_file)
    floors = [k for k in measured if k.endswith("_floor")]
    assert floors and not any(k in r for r in rows for k in floors)  # constants: in the summary only
    images = [r for r in rows if "val/images/_type" in r]
    assert len(images) == saved["epochs"] and all("epoch" in r for r in images)
    steps = [r["trainer/global_step"] for r in rows if "trainer/global_step" in r]
    assert steps == sorted(steps) and steps[-1] < saved["global_step"]  # Lightning's batch count, never zig-zagging
    assert any("train/loss/critic" in r for r in rows)


def test_smoke_run_through_the_cli_writes_every_output(tmp_path):
    run = tmp_path / "run"
    done = run_cli("tradeoffs.train", "experiment=smoke", f"hydra.run.dir={run}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == f"smoke λ=0.01 seed=0: training, 2 epochs -> {run}"  # a quiet console:
    assert len((done.stdout + done.stderr).splitlines()) <= 8  # a start and an end line (and the progress bar)
    assert f"run directory: {run}" in (run / "train.log").read_text()  # the details are in the log file
    saved = json.loads((run / "results.json").read_text())
    assert saved["overrides"] == ["experiment=smoke"]
    assert saved["adv_weight"] == 0.01 and saved["epochs"] == 2
    assert {"val/distortion/psnr", "val/distortion/ssim_subset", "val/perception/recall"} <= set(
        saved["higher_is_better"]
    )
    assert not {"val/distortion/mse", "val/perception/fd", "val/uncertainty/pooled"} & set(saved["higher_is_better"])
    assert {"val/distortion/mse", "val/distortion/psnr", "val/distortion/ssim"} <= set(saved["metrics"])
    assert {"train/loss/distortion", "train/loss/adversarial", "train/loss/critic"} <= set(saved["metrics"])
    mse = saved["metrics"]["val/distortion/mse"]
    assert saved["metrics"]["val/distortion/psnr"] >= -10 * np.log10(mse) - 1e-4  # mean of per-image PSNR (Jensen)

    assert (run / ".hydra" / "config.yaml").is_file()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)  # a checkpoint cannot run code
    (best,) = (run / "checkpoints").glob("best-epoch*.ckpt")
    assert torch.load(best, weights_only=True)["tradeoffs_config"] == ckpt["tradeoffs_config"]
    assert ckpt["wandb_run_id"] == saved["wandb_run_id"] == (run / "wandb_run_id").read_text().strip()
    assert any(k.startswith("ema.") for k in ckpt["state_dict"]) and len(ckpt["optimizer_states"]) == 2

    epochs = [r for r in read_csv_rows(run / "metrics.csv") if r["val/distortion/psnr"]]
    assert [r["epoch"] for r in epochs] == ["0", "1"]
    (offline_run,) = (run / "wandb").glob(f"offline-run-*-{saved['wandb_run_id']}")
    (history,) = offline_run.glob("*.wandb")
    assert b"val/*" in history.read_bytes() and b"test/*" in history.read_bytes()  # charted against epoch
    assert_wandb_tells_the_truth(history, saved)

    panel = np.asarray(Image.open(run / "images" / "val_epoch001.png"))
    assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.std() > 10  # real content, not a black image


@pytest.mark.parametrize(
    ("experiment", "stochastic"),
    [
        ("smoke", ["model.generator.noise_channels=2"]),
        ("smoke_diffusion", ["model.sampler.eta=0.5"]),
        ("smoke_flow", ["model.source_noise=0.05"]),
    ],
)
def test_resumed_run_ends_like_an_uninterrupted_one(train_config, caplog, experiment, stochastic):
    deterministic = ["trainer.deterministic=true", *stochastic]
    full = train(train_config(*deterministic, "trainer.max_epochs=3", run="full", experiment=experiment))
    interrupted = train(train_config(*deterministic, "trainer.max_epochs=2", run="split", experiment=experiment))
    (Path(interrupted.checkpoint).parents[1] / "results.json").unlink()  # as if stopped after epoch 2 of 3
    cfg = train_config(*deterministic, "trainer.max_epochs=3", "ckpt_path=last", run="split", experiment=experiment)
    resumed = train(cfg)
    assert "resuming" in caplog.text and "trainer.max_epochs: 2 -> 3" in caplog.text

    a = torch.load(full.checkpoint, weights_only=False)
    b = torch.load(resumed.checkpoint, weights_only=False)
    assert a["epoch"] == b["epoch"] == 2 and a["global_step"] == b["global_step"]
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)
    for key in ("val/distortion/mse", "val/distortion/psnr", "val/distortion/ssim"):
        assert resumed.metrics[key] == full.metrics[key]
    # the same W&B run continues, and the CSV keeps the epochs from before the interruption
    assert (
        resumed.extra["wandb_run_id"]
        == torch.load(cfg.paths.output_dir + "/checkpoints/last.ckpt", weights_only=False)["wandb_run_id"]
    )
    epochs = [r["epoch"] for r in read_csv_rows(f"{cfg.paths.output_dir}/metrics.csv") if r["val/distortion/psnr"]]
    assert epochs == ["0", "1", "2"]


def test_last_checkpoint_is_the_latest_epoch_even_when_the_best_is_older(train_config):
    """Regression: Lightning 2.6's save_last froze last.ckpt at the last top-k save."""
    results = train(train_config("trainer.max_epochs=3", "callbacks.best_checkpoint.mode=min"))
    last = torch.load(results.checkpoint, weights_only=False)
    assert last["epoch"] == 2 and last["global_step"] == results.extra["global_step"]
    assert results.extra["best_checkpoint"].endswith("best-epoch000.ckpt")  # psnr rises, so "min" keeps epoch 0


def test_fresh_run_never_overwrites_checkpoints(train_config):
    train(train_config("trainer.max_epochs=1"))
    with pytest.raises(ConfigError, match="holds a finished run .*ckpt_path=auto skips it"):
        train(train_config("trainer.max_epochs=1"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.adv_weight=-1"], "model.adv_weight must be a number >= 0, got -1"),
        (["model.adv_weight=abc"], "model.adv_weight must be a number >= 0, got 'abc'"),
        (["degradation.sigma=-0.1"], "degradation.sigma must be >= 0"),
        (["data.source.crop_size=4000"], "data.source.crop_size=4000 is larger than the smallest photo side"),
        (["ckpt_path=/no/such/last.ckpt"], "ckpt_path=/no/such/last.ckpt: no such checkpoint file"),
        (["model.channels=3"], "model.channels=3 but data.source.channels=1"),
        (["data=folder", "data.source.root=/no/such/folder"], "data.source.root=/no/such/folder: no such directory"),
        (["degradation=sr4", "data.source.crop_size=30"], "data.source.crop_size=30x30 is not divisible"),
        (["data.num_workers=-1"], "data.num_workers=-1 must be an integer >= 0"),
        (["degradation=colorization"], "degradation=colorization needs data.source.channels=3, got 1"),
    ],
)
def test_bad_input_fails_before_training_with_the_key(train_config, overrides, message):
    cfg = train_config(*overrides)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


@pytest.mark.parametrize("content", [b"not a checkpoint\n", b"PK\x03\x04 truncated zip", b""])
def test_a_file_that_is_not_a_checkpoint_is_named(train_config, tmp_path, content):
    bogus = tmp_path / "notes.ckpt"
    bogus.write_bytes(content)
    with pytest.raises(ConfigError, match=f"ckpt_path={bogus} is not a checkpoint"):
        train(train_config(f"ckpt_path={bogus}"))
    with pytest.raises(ConfigError, match=f"ckpt_path={bogus} is not a checkpoint"):
        evaluate(compose_config("evaluate", [f"ckpt_path={bogus}", "accelerator=cpu"], tmp_path / "eval"))


def test_empty_folder_is_reported(train_config, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no readable PNG/JPG/JPEG/BMP images"):
        train(train_config("data=folder", f"data.source.root={tmp_path / 'empty'}"))


def test_unknown_degradation_is_named(tmp_path):
    with pytest.raises(MissingConfigException, match="degradation/blur3000"):
        compose_config("train", ["experiment=smoke", "degradation=blur3000"], tmp_path / "run")


def test_cli_error_is_one_line_without_traceback(tmp_path):
    done = run_cli("tradeoffs.train", "experiment=smoke", "model.adv_weight=-0.5", f"hydra.run.dir={tmp_path / 'run'}")
    output = done.stdout + done.stderr
    assert done.returncode == 2
    assert "model.adv_weight must be a number >= 0, got -0.5" in output and "Traceback" not in output


def test_evaluate_and_traverse_share_the_one_line_errors(tmp_path):
    bogus = tmp_path / "notes.ckpt"
    bogus.write_text("not a checkpoint")
    for module, extra in (("tradeoffs.evaluate", []), ("tradeoffs.traverse", ["traversal=averaging"])):
        done = run_cli(module, f"ckpt_path={bogus}", *extra, f"hydra.run.dir={tmp_path / module}")
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert f"ckpt_path={bogus} is not a checkpoint" in output and "Traceback" not in output
        assert (tmp_path / module / "failures.jsonl").is_file()  # recorded like a failed training job


def test_non_finite_loss_keeps_the_last_good_checkpoint(train_config, monkeypatch):
    original = GANRestorer.generator_loss

    def nan_in_epoch_1(self, fake, task, lifted):
        loss, parts = original(self, fake, task, lifted)
        return (loss * float("nan") if self.current_epoch == 1 else loss), parts

    monkeypatch.setattr(GANRestorer, "generator_loss", nan_in_epoch_1)
    cfg = train_config()
    with pytest.raises(NonFiniteLossError, match="non-finite generator loss .* at epoch 1, global step"):
        train(cfg)
    run = Path(cfg.paths.output_dir)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0
    assert not (run / "results.json").exists()


def test_evaluate_reproduces_the_final_validation_metrics(train_config, tmp_path, caplog):
    results = train(train_config())
    cfg = compose_config("evaluate", [f"ckpt_path={results.checkpoint}", "accelerator=cpu"], tmp_path / "eval")
    evaluation = evaluate(cfg)  # no trainer: the split's distortion and the measures, as validation computed them
    measured = {k: v for k, v in results.metrics.items() if k.startswith("val/")}
    assert {k: v for k, v in evaluation.metrics.items() if k.startswith("val/")} == measured  # exactly
    assert evaluation.adv_weight == results.adv_weight == 0.01  # λ from the model's hyperparameters
    assert json.loads((tmp_path / "eval" / "results.json").read_text()) == evaluation.as_dict()
    test_split = evaluate(
        compose_config(
            "evaluate", [f"ckpt_path={results.checkpoint}", "split=test", "accelerator=cpu"], tmp_path / "eval_test"
        )
    )
    # no separate test set in this source: the test split measures the validation images, with test/ keys, and says so
    assert "NaturalPhotos has no test set: split=test measures its validation set" in caplog.text
    assert test_split.metrics["test/distortion/psnr"] == pytest.approx(results.metrics["val/distortion/psnr"])
    assert test_split.metrics["test/perception/fd"] == pytest.approx(evaluation.metrics["val/perception/fd"])


def test_a_checkpoint_from_before_the_engine_is_measured_with_todays_metrics(train_config, tmp_path):
    """A stored metrics config of the old flat form (no measures) keeps its subset settings, gets today's list."""
    results = train(train_config("trainer.max_epochs=1"))
    checkpoint = torch.load(results.checkpoint, weights_only=True)
    old = checkpoint["tradeoffs_config"]
    old["metrics"] = {
        "_target_": "tradeoffs.callbacks.tradeoff_metrics.TradeoffMetrics",
        "output_dir": "${paths.output_dir}",
        **{k: v for k, v in old["metrics"].items() if k in ("num_images", "num_samples", "patch_size", "seed")},
        "lpips": "auto",
        "kid_subsets": 5,
    }
    del old["callbacks"]["image_panels"], old["callbacks"]["epoch_table"]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    evaluation = evaluate(
        compose_config("evaluate", [f"ckpt_path={tmp_path / 'old.ckpt'}", "accelerator=cpu"], tmp_path / "eval")
    )
    assert evaluation.metrics["val/perception/fd"] == pytest.approx(results.metrics["val/perception/fd"], rel=1e-6)
    assert (tmp_path / "eval" / "images" / "val_epoch000.png").is_file()


def test_a_checkpoint_whose_metrics_built_the_callback_is_measured_by_the_engine(train_config, tmp_path):
    """Checkpoints written while conf/metrics named the Lightning callback keep every setting; the engine measures."""
    results = train(train_config("trainer.max_epochs=1"))
    checkpoint = torch.load(results.checkpoint, weights_only=True)
    checkpoint["tradeoffs_config"]["metrics"]["_target_"] = "tradeoffs.callbacks.tradeoff_metrics.TradeoffMetrics"
    torch.save(checkpoint, tmp_path / "callback.ckpt")
    evaluation = evaluate(
        compose_config("evaluate", [f"ckpt_path={tmp_path / 'callback.ckpt'}", "accelerator=cpu"], tmp_path / "eval")
    )
    assert evaluation.metrics["val/perception/fd"] == results.metrics["val/perception/fd"]


def test_evaluate_refuses_sampler_settings_for_a_gan_checkpoint(train_config, tmp_path):
    results = train(train_config("trainer.max_epochs=1"))
    overrides = [f"ckpt_path={results.checkpoint}", "accelerator=cpu", "+model.sampler.eta=0.5"]
    with pytest.raises(ConfigError, match=r"\+model.sampler.eta: the training config in .* has no such key"):
        evaluate(compose_config("evaluate", overrides, tmp_path / "eval"))


@pytest.mark.parametrize(
    ("experiment", "overrides", "message"),
    [
        ("smoke", ["degradation=sr4", "data.source.crop_size=30"], "data.source.crop_size=30x30 is not divisible by"),
        ("smoke", ["degradation=sr4", "data.source.val_crop_size=30"], "data.source.val_crop_size=30x30 is not div"),
        ("smoke_diffusion", ["data.source.crop_size=33"], "data.source.crop_size=33x33 must be divisible by 2"),
    ],
)
def test_a_folder_s_training_crops_are_checked_before_training(
    train_config, image_folder, experiment, overrides, message
):
    """Training crops sized apart from the validation crops (crop_size beside val_crop_size) fail before fit, not at
    the first training step."""
    sizes = [
        "data.source.crop_size=32",
        "data.source.val_crop_size=32",
        "data.source.val_fraction=0.5",
        "metrics.num_images=2",
    ]
    cfg = train_config("data=folder", f"data.source.root={image_folder}", *sizes, *overrides, experiment=experiment)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


def test_an_evaluate_job_stores_the_task_it_measured_for_the_theory_overlay(train_config, tmp_path):
    """An evaluate job's stored config carries the checkpoint's data and degradation, resolved, so the curve tool
    finds the closed forms of a Gaussian checkpoint's sampler sweep (the config alone names no task)."""
    from tradeoffs.curves.theory_overlay import overlay_for
    from tradeoffs.evaluate import with_measured_task

    trained = train_config(experiment="gaussian_oracle_diffusion")
    cfg = compose_config("evaluate", ["ckpt_path=x.ckpt", "+model.sampler.steps=4"], tmp_path / "eval")
    stored = with_measured_task(cfg, trained)
    assert stored.model.sampler.steps == 4 and stored.ckpt_path == "x.ckpt"
    assert stored.data.source.seed == trained.seed and stored.degradation.sigma == 0.1
    job = tmp_path / "job"
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(stored, job / ".hydra" / "config.yaml")
    assert overlay_for(job).mmse == pytest.approx(0.0036698690, rel=1e-6)  # D*/d of the oracle's task
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    assert overlay_for(job) is None
