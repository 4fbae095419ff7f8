"""A λ sweep on a real SLURM cluster through hydra/launcher=slurm (submitit): requeue, time limits, DDP tasks.

Needs the one-node cluster of scripts/slurm_local.sh (`make test-cluster` starts it, as root); skipped otherwise.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import QUIET, REPO
from tradeoffs.assemble import compose_config
from tradeoffs.evaluate import evaluate

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        os.environ.get("TRADEOFFS_SLURM") != "1" or shutil.which("sbatch") is None,
        reason="needs the local SLURM cluster: make test-cluster",
    ),
]

SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=2",
    "ckpt_path=auto",
]
# two jobs that train the same model (+copy only names them apart): the interrupted one must end where the other does;
# each epoch lasts at least 1 s (tests/pacing.py), so the jobs outlive a requeue or a time limit on a fast machine too
PACE = ["+callbacks.pace._target_=tests.pacing.EpochPace", "+callbacks.pace.seconds=1.0"]
SWEEP = ["experiment=smoke", "model.adv_weight=0.05", "+copy=0,1", "data.samples_per_epoch=256", *PACE, *QUIET]


def sweep(sweep_dir: Path, *overrides: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tradeoffs.train",
        "-m",
        *SWEEP,
        *SLURM,
        *overrides,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def job_dir(sweep_dir: Path, copy: int) -> Path:
    (found,) = glob.glob(str(sweep_dir / f"*copy={copy},*"))
    return Path(found)


def array_task(index: int) -> str:
    """The SLURM id (JOB_INDEX) of this sweep's job `index` (the newest array in the queue)."""
    ids = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
    return max((i for i in ids if i.endswith(f"_{index}")), key=lambda i: int(i.split("_")[0]))


def newest_job() -> str:
    """The SLURM id of the newest job in the queue (a sweep of one job is submitted as a job, not an array)."""
    ids = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
    return max(ids, key=lambda i: int(i.split("_")[0]))


def accounting(task: str) -> str:
    """Every accounting record of the task's array (with duplicates): what submitit's sacct polls chose from."""
    command = ["sacct", "-D", "-j", task.split("_")[0], "-o", "JobID,JobIDRaw,State,Submit", "--parsable2"]
    return "\n" + subprocess.run(command, capture_output=True, text=True).stdout


def wait_for(path_glob: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not glob.glob(path_glob):
        assert time.monotonic() < deadline, f"{path_glob} never appeared"
        time.sleep(0.5)


def weights(directory: Path) -> dict:
    return torch.load(directory / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def check_resumed_to_the_uninterrupted_result(sweep_dir: Path, epochs: int) -> None:
    resumed, plain = job_dir(sweep_dir, 0), job_dir(sweep_dir, 1)
    records = [json.loads((d / "results.json").read_text()) for d in (resumed, plain)]
    assert [r["epochs"] for r in records] == [epochs, epochs]
    log = (resumed / "train.log").read_text()
    assert "ended by SIGTERM" in log and "resuming last.ckpt" in log  # killed, then resumed from its checkpoint
    assert records[0]["wandb_run_id"] == (resumed / "wandb_run_id").read_text().strip()
    assert len({run.name.split("-")[-1] for run in (resumed / "wandb").glob("offline-run-*")}) == 1  # one W&B run
    rows = (resumed / "tradeoff_epochs.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(epochs))  # no finished epoch redone
    ours, theirs = weights(resumed), weights(plain)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_a_requeued_job_resumes_and_the_launcher_waits_for_it(tmp_path):
    epochs = 6
    launcher = sweep(tmp_path, f"trainer.max_epochs={epochs}")
    try:
        wait_for(str(tmp_path / "*copy=0,*" / "checkpoints" / "last.ckpt"))
        task = array_task(0)
        subprocess.run(["scontrol", "requeue", task], check=True)
        out, _ = launcher.communicate(timeout=600)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, out[-3000:] + accounting(task)
    check_resumed_to_the_uninterrupted_result(tmp_path, epochs)
    # accounting saw the requeue the launcher waited through: the task's first record ended REQUEUED
    records = [line.split("|") for line in accounting(task).split()]
    assert [r[2] for r in records if r[0] == task][:1] == ["REQUEUED"]


def test_a_job_past_its_time_limit_is_requeued_by_submitit_and_finishes(tmp_path):
    """timeout_min=2 with submitit's USR2 30 s before it: the job checkpoints its call, requeues itself, resumes.
    Each incarnation trains for 90 s less its imports, which on a loaded machine take most of a minute, so the
    number of incarnations grows with the load: submitit's timeout budget is raised to match (SLURM delivers the
    signal twice per time limit here and submitit counts both)."""
    epochs = 150  # at least 2.5 minutes of training (the pace): at least one time limit, each run ≤ 2 min
    launcher = sweep(
        tmp_path,
        f"trainer.max_epochs={epochs}",
        "hydra.launcher.timeout_min=2",
        "hydra.launcher.signal_delay_s=30",
        "hydra.launcher.max_num_timeout=100",
    )
    try:
        wait_for(str(tmp_path / "*copy=0,*" / "train.log"))
        progress = Progress(tmp_path, stall_s=600)
        while launcher.poll() is None and progress.advancing():
            time.sleep(2)
        out, _ = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, out[-3000:]
    for copy in (0, 1):
        log = (job_dir(tmp_path, copy) / "train.log").read_text()
        assert "resuming last.ckpt" in log
    check_resumed_to_the_uninterrupted_result_of_both(tmp_path, epochs)


class Progress:
    """Whether a sweep's jobs still advance: the epochs measured by all jobs (their tradeoff_epochs.csv rows) grew
    within the last `stall_s` seconds. A loaded machine leaves each incarnation less time between its start (imports)
    and its time limit, so the test waits on progress, not on a wall-clock budget."""

    def __init__(self, sweep_dir: Path, stall_s: float) -> None:
        self.sweep_dir, self.stall_s = sweep_dir, stall_s
        self.rows, self.changed = -1, time.monotonic()

    def advancing(self) -> bool:
        rows = sum(len(f.read_text().splitlines()) for f in self.sweep_dir.glob("*copy=*/tradeoff_epochs.csv"))
        if rows != self.rows:
            self.rows, self.changed = rows, time.monotonic()
        return time.monotonic() - self.changed < self.stall_s


def check_resumed_to_the_uninterrupted_result_of_both(sweep_dir: Path, epochs: int) -> None:
    """Both jobs were interrupted by the same time limit: both finish every epoch, each once, to equal weights."""
    directories = [job_dir(sweep_dir, c) for c in (0, 1)]
    for directory in directories:
        assert json.loads((directory / "results.json").read_text())["epochs"] == epochs
        rows = (directory / "tradeoff_epochs.csv").read_text().splitlines()[1:]
        assert [int(row.split(",")[0]) for row in rows] == list(range(epochs))
    ours, theirs = (weights(d) for d in directories)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


DDP_JOB = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "data.source.num_val=9"]


def test_a_ddp_job_runs_as_two_slurm_tasks_measures_like_one_process_and_survives_a_requeue(tmp_path):
    """One λ job as 2 SLURM tasks (tasks_per_node follows trainer.devices): Lightning's SLURM environment makes each
    task a gloo rank. Requeued after its first checkpoint, it resumes; it ends with the weights of the same job run
    by Lightning's own 2-process launcher without SLURM, and measures what one process measures for them.

    Whether the ranks leave gracefully ("ended by SIGTERM") or are killed at the end of SLURM's grace period depends on
    where the signal lands: Lightning's SIGTERM handler broadcasts from inside the handler, and inside a collective
    that can hang both ranks. Either way SLURM requeues the job and it resumes from last.ckpt, which is the contract
    checked here."""
    epochs, sweep_dir = 4, tmp_path / "slurm"
    job = ["experiment=smoke", "model.adv_weight=0.05", *DDP_JOB, f"trainer.max_epochs={epochs}", *PACE, *QUIET]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "tradeoffs.train", "-m", *job, *SLURM, f"hydra.sweep.dir={sweep_dir}"]
    launcher = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(str(sweep_dir / "*" / "checkpoints" / "last.ckpt"))
        task = newest_job()
        subprocess.run(["scontrol", "requeue", task], check=True)
        out, _ = launcher.communicate(timeout=600)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, out[-3000:] + accounting(task)
    (directory,) = (d for d in sweep_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    record = json.loads((directory / "results.json").read_text())
    log = (directory / "train.log").read_text()
    assert record["epochs"] == epochs and "resuming last.ckpt" in log
    records = [line.split("|") for line in accounting(task).split()]
    assert [r[2] for r in records if r[0] == task][:1] == ["REQUEUED"]  # the first run was stopped and requeued
    rows = (directory / "tradeoff_epochs.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(epochs))
    ranks = sorted(Path(p).name for p in glob.glob(str(sweep_dir / ".submitit" / "*" / "*_log.out")))
    assert {name.split("_")[-2] for name in ranks} == {"0", "1"}  # submitit logged both tasks

    local_dir = tmp_path / "local"  # the same job, uninterrupted, by Lightning's subprocess launcher
    command = [sys.executable, "-m", "tradeoffs.train", *job, "ckpt_path=auto", f"hydra.run.dir={local_dir}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ours, theirs = weights(directory), weights(local_dir)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in theirs)

    single = evaluate(compose_config("evaluate", [f"ckpt_path='{record['checkpoint']}'", "accelerator=cpu"], tmp_path))
    whole_set = {f"val/distortion/{name}" for name in ("mse", "psnr", "ssim")}  # sharded: summed in another order
    measured = {k: v for k, v in record["metrics"].items() if k.startswith("val/")}
    assert {k: measured[k] for k in whole_set} == pytest.approx({k: single.metrics[k] for k in whole_set}, rel=1e-6)
    assert {k: v for k, v in measured.items() if k not in whole_set} == {
        k: v for k, v in single.metrics.items() if k.startswith("val/") and k not in whole_set
    }
