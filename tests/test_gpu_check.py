"""`bash scripts/gpu_check.sh` on a machine without a GPU: it says so, every gpu test skips with its reason, and no
benchmark runs (on a GPU it is the GPU check itself)."""

import subprocess

import pytest
import torch

from tests.conftest import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the script runs the full check")
def test_the_gpu_check_says_there_is_no_gpu_and_skips_every_gpu_test():
    done = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "gpu_check: no CUDA device here" in done.stdout
    assert "4 skipped" in done.stdout and "needs a CUDA device" in done.stdout
    assert "utilisation" not in done.stdout and "passed" not in done.stdout
