"""The CUDA path (`scripts/gpu_check.sh` runs these with the benchmarks): a bf16 training run, the diffusion sampler and
the measurement on CUDA against the CPU, DDP over the visible devices. Skipped, with the reason, without a GPU."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import QUIET, REPO
from tradeoffs.assemble import build_datamodule, build_model, compose_config
from tradeoffs.evaluate import evaluate
from tradeoffs.models.diffusion.sampler import Sampler
from tradeoffs.train import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (scripts/gpu_check.sh on a GPU)"),
]
DISCRETE = ("precision", "recall", "density", "coverage")  # counts of decisions: a tie may fall either way


@pytest.fixture(autouse=True)
def exact_float32():
    """Full float32 on CUDA (no TF32 convolutions or products), so CPU and CUDA differ by rounding only."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.fixture(scope="module")
def cpu_checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("gpu") / "cpu"
    return train(compose_config("train", ["experiment=smoke", *QUIET, "logger=csv", "trainer=cpu"], run)).checkpoint


def test_a_bf16_run_on_the_gpu_trains_and_measures(tmp_path):
    cfg = compose_config(
        "train", ["experiment=smoke", *QUIET, "logger=csv", "trainer=gpu", "trainer.max_epochs=1"], tmp_path
    )
    assert cfg.trainer.precision == "bf16-mixed"
    record = train(cfg)
    assert record.extra["epochs"] == 1
    assert all(torch.isfinite(torch.tensor(v)) for k, v in record.metrics.items() if k.startswith("val/"))


def test_the_measurement_on_cuda_equals_the_cpu_s(cpu_checkpoint, tmp_path):
    """A deterministic restorer (the smoke GAN has no noise input) measured on each device."""
    cpu, cuda = (
        evaluate(compose_config("evaluate", [f"ckpt_path={cpu_checkpoint}", f"accelerator={a}"], tmp_path / a)).metrics
        for a in ("cpu", "gpu")
    )
    assert cpu.keys() == cuda.keys()
    for key, value in cpu.items():
        if key.rsplit("/", 1)[-1].startswith(DISCRETE):
            assert cuda[key] == pytest.approx(value, abs=2 / 32), key
        else:
            assert cuda[key] == pytest.approx(value, rel=1e-3, abs=1e-6), key


def test_the_diffusion_sampler_on_cuda_equals_the_cpu_s_from_the_same_noise(tmp_path):
    """DDIM with η = 0 is deterministic given x_T: the same x_T and network give the same samples on both devices."""
    cfg = compose_config("train", ["experiment=demo_diffusion"], tmp_path)
    model = build_model(cfg, build_datamodule(cfg)).eval()
    sampler, generator = Sampler("ddim", steps=20, eta=0.0), torch.Generator().manual_seed(0)
    y = torch.rand(16, 1, 8, 8, generator=generator)
    x_T = torch.randn(16, 1, 8, 8, generator=generator)
    lifted = model.degradation.lift(y)

    def run(device):
        net, condition = model.inference_generator.to(device), lifted.to(device)

        def predict_x0(x_t, t):
            return model.schedule.predicted_x0(model.prediction, net(x_t, t, condition), x_t, t)

        with torch.no_grad():
            return sampler.sample(model.schedule, predict_x0, x_T.to(device)).cpu()

    torch.testing.assert_close(run("cuda"), run("cpu"), rtol=1e-4, atol=1e-4)


def test_ddp_over_the_visible_gpus_measures_what_one_process_measures(tmp_path):
    devices = torch.cuda.device_count()
    command = [
        sys.executable,
        "-m",
        "tradeoffs.train",
        "experiment=smoke",
        "trainer=ddp",
        "trainer.accelerator=gpu",
        f"trainer.devices={devices}",
        "trainer.precision=32-true",
        "data.source.num_val=9",
        "logger=csv",
        *QUIET,
        f"hydra.run.dir={tmp_path / 'ddp'}",
    ]
    done = subprocess.run(command, cwd=REPO, env=os.environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "ddp" / "results.json").read_text())
    single = evaluate(compose_config("evaluate", [f"ckpt_path={record['checkpoint']}", "accelerator=gpu"], tmp_path))
    for key, value in single.metrics.items():
        if key.startswith("val/") and not key.rsplit("/", 1)[-1].startswith(DISCRETE):
            assert record["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
