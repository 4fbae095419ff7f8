"""DDP for real: `trainer=ddp` with 2 gloo processes on the CPU (Lightning's subprocess launcher, as users run it).

The measurement under DDP must be the single-process one (each image once), checkpoints must resume, and GAN,
diffusion and fusion restorers must all train with W&B on (offline)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import QUIET, REPO
from tradeoffs.assemble import compose_config
from tradeoffs.evaluate import evaluate

pytestmark = pytest.mark.slow

DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "logger=default"]
ODD = ["data.source.num_val=9"]  # 9 validation images: a padding sampler would count one twice


def train_ddp(run_dir, *overrides):
    command = [sys.executable, "-m", "tradeoffs.train", *DDP, *QUIET, *overrides, f"hydra.run.dir={run_dir}"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run_dir / "train_ddp_process_1.log").is_file()  # a second process really trained
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddp") / "gan"
    return run_dir, train_ddp(run_dir, "experiment=smoke", *ODD)


def test_ddp_measures_what_one_process_measures_for_the_same_weights(gan_run, tmp_path):
    run_dir, record = gan_run
    single = evaluate(compose_config("evaluate", [f"ckpt_path={record['checkpoint']}", "accelerator=cpu"], tmp_path))
    measured = {k: v for k, v in record["metrics"].items() if k.startswith("val/")}
    whole_set = {f"val/distortion/{name}" for name in ("mse", "psnr", "ssim")}  # sharded: sums in another order
    assert {k: measured[k] for k in whole_set} == pytest.approx({k: single.metrics[k] for k in whole_set}, rel=1e-6)
    subset = {k: v for k, v in measured.items() if k not in whole_set}  # measured on rank 0: exactly
    assert subset == {k: v for k, v in single.metrics.items() if k in subset}
    assert {"val/perception/fd_floor", "val/perception/precision", "val/uncertainty/pooled"} <= set(subset)
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1  # one W&B run, from rank 0


def test_a_ddp_run_resumes_from_last_ckpt_to_the_uninterrupted_weights(gan_run, tmp_path):
    _, uninterrupted = gan_run
    run_dir = tmp_path / "resumed"
    train_ddp(run_dir, "experiment=smoke", *ODD, "trainer.max_epochs=1")
    (run_dir / "results.json").unlink()  # as if stopped after epoch 1 of 2
    first_id = (run_dir / "wandb_run_id").read_text()
    resumed = train_ddp(run_dir, "experiment=smoke", *ODD, "ckpt_path=last")
    assert resumed["epochs"] == uninterrupted["epochs"] == 2
    assert resumed["wandb_run_id"] == first_id.strip()  # the same W&B run
    ours = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    theirs = torch.load(uninterrupted["checkpoint"], weights_only=False)["state_dict"]
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("experiment", ["smoke_diffusion", "bigprior_gaussian", "smoke_flow"])
def test_diffusion_fusion_and_flow_restorers_train_under_ddp(experiment, tmp_path):
    record = train_ddp(tmp_path / experiment, f"experiment={experiment}", "trainer.max_epochs=1")
    assert record["epochs"] == 1 and "val/perception/fd" in record["metrics"]


@pytest.mark.parametrize("launcher", ["basic", "devices"])
def test_a_local_sweep_of_ddp_jobs_runs_each_job_s_processes_in_its_directory(launcher, tmp_path):
    """Lightning re-executes sys.argv for its DDP children: in a sweep that must be the job, not the sweep; jobs run
    one after the other in one process (basic) or side by side in joblib workers (devices)."""
    command = [
        sys.executable,
        "-m",
        "tradeoffs.train",
        "-m",
        *DDP,
        *QUIET,
        "experiment=smoke",
        "model.adv_weight=0,0.01",
        "trainer.max_epochs=1",
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={tmp_path}",
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted(p.parent for p in tmp_path.glob("*/results.json"))
    assert [json.loads((j / "results.json").read_text())["adv_weight"] for j in jobs] == [0.0, 0.01]
    assert all((j / "train_ddp_process_1.log").is_file() for j in jobs)
    assert not list(tmp_path.glob("*/*/results.json"))  # no child started a sweep of its own
