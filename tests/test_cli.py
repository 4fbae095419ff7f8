"""The error policy of the entry points under a scheduler: a SIGTERM-ended SLURM job leaves no result."""

import json
import os
import subprocess
import sys

import pytest
from pytorch_lightning.plugins.environments import SLURMEnvironment

from tests.conftest import REPO
from tradeoffs.assemble import cluster_plugins

JOB = """
import logging, os, signal, sys
from omegaconf import OmegaConf
from tradeoffs.cli import run_job

def job(cfg):
    os.kill(os.getpid(), signal.SIGTERM)  # the scheduler stops the job; then the job fails (W&B's service is gone)
    raise ConnectionResetError("Connection lost")

signal.signal(signal.SIGTERM, lambda *_: None)  # submitit's handler bypasses SIGTERM
run_job(job, OmegaConf.create({"paths": {"output_dir": sys.argv[1]}}), logging.getLogger("job"))
print("returned")
"""


@pytest.mark.parametrize("slurm", [True, False])
def test_a_sigterm_ended_slurm_job_exits_143_without_returning(tmp_path, slurm):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env |= {"SLURM_JOB_ID": "7"} if slurm else {}
    done = subprocess.run([sys.executable, "-c", JOB, str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True)
    failure = json.loads((tmp_path / "failures.jsonl").read_text().splitlines()[-1])
    assert failure["type"] == "ConnectionResetError"  # recorded either way
    if slurm:
        assert done.returncode == 143 and "returned" not in done.stdout  # no result: SLURM's requeue reruns it
    else:
        assert done.returncode == 1 and "ConnectionResetError" in done.stderr  # an ordinary crash, re-raised


def test_lightning_s_slurm_requeue_is_off_under_submitit(monkeypatch):
    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "7"}.items():
        monkeypatch.setenv(key, value)
    assert cluster_plugins() == {}  # plain SLURM (sbatch python ...): Lightning keeps its own environment
    monkeypatch.setenv("SUBMITIT_FOLDER", "/tmp/x")
    (plugin,) = cluster_plugins()["plugins"]
    assert isinstance(plugin, SLURMEnvironment) and plugin.auto_requeue is False
