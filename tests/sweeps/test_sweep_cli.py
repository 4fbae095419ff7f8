"""A real 3-job multirun of experiment=smoke: one job fails without stopping the others; the sweep resumes. (The
diffusion λ sweep beside η and steps sweeps of one checkpoint runs in tests/test_readme.py, as the README writes it.)"""

import os
import subprocess
import sys

import pytest

from tradeoffs.sweeps.collect import collect

pytestmark = pytest.mark.slow


def sweep(sweep_dir, *extra, experiment="smoke", weights="0,0.01,-1"):
    cmd = [
        sys.executable,
        "-m",
        "tradeoffs.train",
        "-m",
        f"experiment={experiment}",
        "sweep=adv_weight",
        f"model.adv_weight={weights}",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep_dir}",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}  # CI sets it; a user's console has none
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def files_of(directory) -> dict[str, bytes]:
    """The directory's own files (a link, e.g. W&B's to its shared service log, by where it points)."""
    return {
        str(p.relative_to(directory)): str(p.readlink()).encode() if p.is_symlink() else p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def test_sweep_isolates_failures_resumes_and_feeds_the_curve_tool(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = sweep(sweep_dir)
    assert done.returncode == 1, done.stdout + done.stderr  # a failed job fails the sweep, after the others ran
    assert "a job of this sweep failed (model.adv_weight=-1" in done.stderr and "Traceback" not in done.stderr
    jobs = {j.overrides[0]: j for j in collect(sweep_dir)}
    assert {k: j.status for k, j in jobs.items()} == {
        "model.adv_weight=0": "finished",
        "model.adv_weight=0.01": "finished",
        "model.adv_weight=-1": "failed",
    }
    assert "model.adv_weight must be a number >= 0, got -1" in jobs["model.adv_weight=-1"].error
    assert jobs["model.adv_weight=0.01"].directory.name == "model.adv_weight=0.01,trainer.max_epochs=1"  # overrides
    assert jobs["model.adv_weight=0"].record.adv_weight == 0.0

    # interrupt: one job lost its results (as if killed after its last checkpoint); relaunch the same sweep
    finished = jobs["model.adv_weight=0"].directory / "results.json"
    kept = jobs["model.adv_weight=0.01"].directory / "results.json"
    finished.unlink()
    before = files_of(kept.parent)
    launch = (sweep_dir / "multirun.yaml").read_bytes()
    done = sweep(sweep_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    assert files_of(kept.parent) == before  # the finished job was skipped, every file left as it was
    assert (sweep_dir / "multirun.1.yaml").read_bytes() == launch  # the first launch's record kept as it was
    assert "finished already, skipped" in done.stdout + done.stderr
    assert finished.is_file()  # the interrupted one resumed from its last.ckpt and finished
    failures = (jobs["model.adv_weight=-1"].directory / "failures.jsonl").read_text().strip().splitlines()
    assert len(failures) == 2  # the failed job was rerun, and failed again, on record

    curve = subprocess.run(
        [sys.executable, "-m", "tradeoffs.curve", str(sweep_dir), "--epochs"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert curve.returncode == 0, curve.stdout + curve.stderr
    assert "2 finished, 0 unfinished, 1 failed" in curve.stdout
    for name in (
        "tradeoff.csv",
        "tradeoff_epochs.csv",
        "perception_distortion.png",
        "uncertainty_perception.svg",
        "uncertainty_distortion.png",
    ):
        assert (sweep_dir / name).is_file(), name
    assert list((sweep_dir / "wandb").glob("offline-run-*"))  # the summary W&B run


def test_a_sweep_over_experiments_gets_one_directory_per_job_and_one_console_line_per_start_and_end(tmp_path):
    """`experiment=a,b` into one sweep dir names each job's directory by its experiment (the key is otherwise left
    out of job names); hydra/job_logging=summary (make demo): progress lines and errors on the console, the rest in
    train.log."""
    quiet = [
        "hydra/job_logging=summary",
        "hydra/hydra_logging=summary",
        "~callbacks.progress_bar",
        "++trainer.enable_progress_bar=false",
    ]
    done = sweep(tmp_path / "sweep", *quiet, experiment="smoke,smoke_diffusion", weights="0.01,-1")
    assert done.returncode == 1, done.stdout + done.stderr  # λ = -1 fails
    lines = done.stdout.strip().splitlines()
    starts = [line for line in lines if ": training, 1 epochs -> " in line]
    ends = [line for line in lines if ": done, 1 epochs in " in line]
    assert len(starts) == 4 and len(ends) == 2 and len(lines) == 6, done.stdout  # λ = -1 fails before it starts
    finished = {j.directory.name for j in collect(tmp_path / "sweep") if j.status == "finished"}
    assert finished == {
        "experiment=smoke,model.adv_weight=0.01,trainer.max_epochs=1",
        "experiment=smoke_diffusion,model.adv_weight=0.01,trainer.max_epochs=1",
    }
    assert all(", MSE " in line and "fd " in line for line in ends)
    assert "model.adv_weight must be a number >= 0, got -1" in done.stderr
    for noise in ("GPU available", "Trainable params", "Tip:", "Warning"):
        assert noise not in done.stdout + done.stderr, noise
    log = next((tmp_path / "sweep").glob("experiment=smoke,model.adv_weight=0.01*/train.log")).read_text()
    assert "GPU available" in log and "Trainable params" in log  # Lightning's messages and the model table
