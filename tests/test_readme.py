"""Every shell command of the README, run as a user would: from a fresh project directory, in the README's order
(earlier commands make later ones' inputs), through bash, with only smoke-sized overrides appended and the
README's placeholders (`<date>`, `...`, `RUN`, `/data/...`) filled in. A README command that this file does not
know fails the test, so a documented command cannot go untested."""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# Smoke sizes per experiment: appended to every train/evaluate/traverse command of that experiment.
DEMO = [
    "trainer.max_epochs=1",
    "data.samples_per_epoch=64",
    "data.source.num_val=32",
    "metrics.num_images=16",
    "metrics.num_samples=2",
]
FOLDER = [
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data.batch_size=2",
    "data.samples_per_epoch=4",
    "data.source.crop_size=32",
    "data.source.val_crop_size=32",
    "data.source.num_val=4",
    "metrics.num_images=2",
    "metrics.num_samples=2",
    "model.generator.blocks=1",
    "model.generator.width=8",
    "model.critic.width=8",
    "data.num_workers=0",
]
SHRINK = {
    "demo": DEMO,
    "smoke": [],
    "bigprior_gaussian": ["trainer.max_epochs=1", "data.samples_per_epoch=256", "metrics.num_images=64"],
    "sr4_folder": FOLDER,
}
SWEEP_SHRINK = ["model.adv_weight=0,0.01"]  # a sweep preset's grid, shrunk to two points

# README command -> why it is not run here (each is exercised elsewhere, named in the reason).
NOT_RUN = {
    "make demo": "6 minutes; its steps are the entry points run below (train, -m sweep, traverse, baselines, curve)",
    "make test": "this test suite",
    "make test-cluster": ".ci/run runs it after make test",
    "make demo-seeds": "3 × make demo",
    "make oracle": "11 minutes; gaussian_oracle is composed and shrunk in tests/test_configs.py",
    "make demo-diffusion": "8 minutes; tests/sweeps/test_sweep_cli.py runs its λ and η sweeps shrunk",
    "python -m tradeoffs.train experiment=sr4_folder trainer=ddp trainer.devices=4 trainer.precision=bf16-mixed ...": (
        "needs 4 GPUs; the CPU DDP command below and tests/test_ddp.py run the same code"
    ),
    "python -m tradeoffs.train -m experiment=sr4_folder sweep=adv_weight hydra/launcher=slurm "
    "hydra.launcher.partition=gpu hydra.launcher.timeout_min=720 data.source.root=/data/DIV2K/DIV2K_train_HR": (
        "needs a GPU partition; make test-cluster submits the same launcher to a real SLURM cluster"
    ),
    "python -m tradeoffs.train experiment=fusion_inpaint_folder data.source.root=/data/ffhq128 "
    "model.prior.ckpt_path=logs/.../inpaint_folder_diffusion/.../checkpoints/last.ckpt": (
        "needs a trained inpainting prior; tests/models/test_fusion.py trains the fusion model on a prior checkpoint"
    ),
}
WRAP_REASON = "needs basicsr and ESRGAN_x4.pth (not installable offline); tests/test_wrap.py wraps modules it builds"


def readme_commands() -> list[str]:
    """The commands of the README's ```bash blocks: continuation lines joined, comments and blank lines dropped."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command and not command.startswith("#"):
                commands.append(re.sub(r"\s+", " ", command))
    return commands


def shrunk(command: str, placeholders: dict[str, str]) -> str:
    """The command with placeholders filled in and smoke sizes appended."""
    for placeholder, value in placeholders.items():
        command = command.replace(placeholder, value)
    words = shlex.split(command) if command.startswith("python") else []
    experiment = next((w.split("=", 1)[1] for w in words if w.startswith("experiment=")), None)
    extra = list(SHRINK.get(experiment, []))
    if "-m" in words[3:] and experiment is not None:
        extra = [e for e in extra if not e.startswith("trainer.max_epochs")] + ["trainer.max_epochs=1"]
        if any(w.startswith("sweep=") for w in words):
            extra += SWEEP_SHRINK
    return " ".join([command, *map(shlex.quote, extra)])


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    began = time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    print(f"{time.monotonic() - began:6.1f} s  {command[-150:]}")
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stdout + done.stderr, command
    return done


@pytest.fixture
def project(tmp_path, image_folder) -> tuple[Path, dict[str, str]]:
    """A new user's working directory (not the repository), with this virtualenv activated (its bin/ on PATH)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEOFFS_ROOT", "HYDRA_FULL_ERROR")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    work = tmp_path / "project"
    work.mkdir()
    return work, env


def latest(pattern: str, cwd: Path) -> str:
    matches = sorted(cwd.glob(pattern))
    assert matches, pattern
    return str(matches[-1].relative_to(cwd))


def test_every_readme_command_runs_as_written(project, image_folder):
    work, env = project
    commands = readme_commands()
    known = set(NOT_RUN)
    ran = []
    placeholders = {
        "/data/DIV2K/DIV2K_train_HR": str(image_folder),
        "/data/DIV2K/DIV2K_valid_HR": str(image_folder),
        "[split=test]": "split=test",
    }

    def before(command: str) -> None:
        """What the README assumes exists before a command: runs it would have made earlier."""
        if "hydra.run.dir=logs/train/runs/demo/2026-11-23_00-10-00 ckpt_path=last" in command:
            # an interrupted run to resume: one epoch done, no results.json
            run(
                shrunk(
                    "python -m tradeoffs.train experiment=demo hydra.run.dir=logs/train/runs/demo/2026-11-23_00-10-00",
                    {},
                ),
                work,
                env,
            )
            (work / "logs/train/runs/demo/2026-11-23_00-10-00/results.json").unlink()
        if "logs/demo/sweep/model.adv_weight=0.1,seed=0" in command:  # a `make demo` job
            target = "'hydra.run.dir=\"logs/demo/sweep/model.adv_weight=0.1,seed=0\"'"
            run(shrunk(f"python -m tradeoffs.train experiment=demo model.adv_weight=0.1 {target}", {}), work, env)
        if "RUN/checkpoints/last.ckpt" in command and "RUN" not in placeholders:
            run("python -m tradeoffs.train experiment=smoke_diffusion hydra.run.dir=logs/diffusion", work, env)
            placeholders["RUN"] = "logs/diffusion"
        if command.startswith("CKPT="):
            for weight in ("0", "0.3"):
                target = f"logs/sweep/model.adv_weight={weight}"
                demo = f"python -m tradeoffs.train experiment=demo model.adv_weight={weight}"
                run(shrunk(f"{demo} 'hydra.run.dir=\"{target}\"'", {}), work, env)

    script = []  # a block that sets a shell variable (CKPT=...) runs as one script
    for command in commands:
        if command in NOT_RUN:
            continue
        if "tradeoffs.wrap" in command or "logs/wrapped" in command:
            known.add(command)
            continue
        before(command)
        if "logs/sweeps/demo/" in command or "logs/sweeps/lambda" in command:
            placeholders["logs/sweeps/demo/<date>"] = latest("logs/sweeps/demo/*", work)
            placeholders["logs/sweeps/demo/..."] = placeholders["logs/sweeps/demo/<date>"]
            placeholders["logs/sweeps/lambda"] = placeholders["logs/sweeps/demo/<date>"]
        if "logs/train/runs/demo/..." in command:
            run_dir = latest("logs/train/runs/demo/*", work)
            placeholders["logs/train/runs/demo/.../checkpoints/best-epoch014.ckpt"] = latest(
                f"{run_dir}/checkpoints/best-*", work
            )
        if command.startswith("CKPT="):
            script = [command]
            known.add(command)
            continue
        line = shrunk(command, placeholders)
        run("\n".join([*script, line]), work, env)
        known.add(command)
        ran.append(command)

    assert set(commands) <= known, f"README commands no test knows: {set(commands) - known}"
    assert len(ran) >= 20, ran

    # the sweep command from another working directory, the project root given by TRADEOFFS_ROOT
    elsewhere = work.parent / "elsewhere"
    elsewhere.mkdir()
    sweep = next(c for c in commands if c.startswith("python -m tradeoffs.train -m experiment=demo sweep=adv_weight"))
    run(shrunk(sweep, {}), elsewhere, env | {"TRADEOFFS_ROOT": str(work / "root")})
    assert list((work / "root" / "logs" / "sweeps" / "demo").glob("*/model.adv_weight=0.01*/results.json"))
    assert not (elsewhere / "logs").exists()
