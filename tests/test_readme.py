"""Every shell command of the README, run as a user would: from a fresh project directory, in the README's order
(earlier commands make later ones' inputs), through bash, with only smoke-sized overrides appended and the
README's placeholders (`...`, `RUN`, `/data/...`) filled in. A README command that this file does not know fails
the test, so a documented command cannot go untested. The README's sections run in two lanes at once (each lane in
order): most of each command's time is Python importing torch on one core."""

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
    "demo_own_network": DEMO,
}
OFFLINE = {"preset=esrgan": ["model.perceptual.weights=random"]}  # no VGG19 weights can be fetched here
SWEEP_SHRINK = {  # a sweep preset's grid, shrunk to two points (the README: "any list works")
    "sweep=adv_weight": "model.adv_weight=0,0.01",
    "sweep=demo": "model.adv_weight=0,0.1",
    "sweep=sampler_eta": "+model.sampler.eta=0,1",
    "sweep=sampler_steps": "+model.sampler.steps=1,2",
    "sweep=flow_t_end": "+model.sampler.t_end=0.5,1",
}

# README command -> why it is not run here (each is exercised elsewhere, named in the reason).
NOT_RUN = {
    "make demo": "6 minutes; its steps are the entry points run below (train, -m sweep, traverse, baselines, curve)",
    "make test": "this test suite",
    "make test-cluster": ".ci/run runs it after make test",
    "make demo-seeds": "3 × make demo",
    "make oracle": "11 minutes; gaussian_oracle is composed and shrunk in tests/test_configs.py",
    "make oracle-diffusion": (
        "12 minutes; gaussian_oracle_diffusion is composed in tests/test_configs.py, its steps (evaluate -m over "
        "sampler steps, traverse averaging, curve) are README commands run below"
    ),
    "make oracle-flow": (
        "trains make oracle's λ = 0 model and a flow on it; gaussian_oracle_flow is composed in tests/test_configs.py, "
        "smoke_flow's train, evaluate sweep=flow_t_end and curve are README commands run below"
    ),
    "make demo-flow": "needs make demo's λ = 0 model; its train, evaluate -m and curve steps run below on smoke_flow",
    "make demo-flow-seeds": "3 × make demo-flow",
    "make demo-diffusion": (
        "~10 minutes; its steps (evaluate -m over sampler steps and η, traverse averaging and references, curve) "
        "are README commands run below on a smoke diffusion checkpoint"
    ),
    "make demo-diffusion-seeds": "3 × make demo-diffusion",
    "make demo-diffusion-lambda": (
        "~15 minutes after make demo-diffusion; its steps are the train, evaluate -m (sampling steps) and curve "
        "entry points run below"
    ),
    "python -m tradeoffs.train experiment=sr4_folder trainer=ddp trainer.devices=4 trainer.precision=bf16-mixed ...": (
        "needs 4 GPUs; the CPU DDP command below and tests/test_ddp.py run the same code"
    ),
    "python -m tradeoffs.train -m experiment=sr4_folder sweep=adv_weight hydra/launcher=slurm "
    "hydra.launcher.partition=gpu hydra.launcher.timeout_min=720 data.source.root=/data/DIV2K/DIV2K_train_HR": (
        "needs a GPU partition; make test-cluster submits the same launcher to a real SLURM cluster"
    ),
    "bash scripts/gpu_check.sh": "runs from the repository; tests/test_gpu_check.py runs it on this GPU-less machine",
    "make demo-own-network": "its three commands are README commands run below (train, the λ sweep, curve)",
    "python -m tradeoffs.train experiment=fusion_inpaint_folder data.source.root=/data/ffhq128 "
    "model.prior.ckpt_path=logs/.../inpaint_folder_diffusion/.../checkpoints/last.ckpt": (
        "needs a trained inpainting prior; tests/models/test_fusion.py trains the fusion model on a prior checkpoint"
    ),
}
WRAP_REASON = "needs basicsr and ESRGAN_x4.pth (not installable offline); tests/test_wrap.py wraps modules it builds"


def readme_blocks() -> list[list[str]]:
    """The commands of each ```bash block of the README: continuation lines joined, comments and blank lines
    dropped."""
    text = (REPO / "README.md").read_text()
    blocks = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        commands = []
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command and not command.startswith("#"):
                commands.append(re.sub(r"\s+", " ", command))
        blocks.append(commands)
    return blocks


def shrunk(command: str, placeholders: dict[str, str]) -> str:
    """The command with placeholders filled in and smoke sizes appended."""
    for placeholder, value in placeholders.items():
        command = command.replace(placeholder, value)
    words = shlex.split(command) if command.startswith("python") else []
    experiment = next((w.split("=", 1)[1] for w in words if w.startswith("experiment=")), None)
    extra = list(SHRINK.get(experiment, []))
    if "-m" in words[3:] and experiment is not None:
        extra = [e for e in extra if not e.startswith("trainer.max_epochs")] + ["trainer.max_epochs=1"]
    extra += [grid for preset, grid in SWEEP_SHRINK.items() if preset in words]
    extra += [e for preset, missing in OFFLINE.items() if preset in words for e in missing]
    return " ".join([command, *map(shlex.quote, extra)])


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    began = time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    print(f"{time.monotonic() - began:6.1f} s  {command[-150:]}")
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stdout + done.stderr, command
    return done


def demo_run(directory: str, adv_weight: float | None, work: Path, env: dict[str, str]) -> None:
    """A (shrunk, one-epoch) demo training run in `directory`, as `make demo` leaves them."""
    weight = "" if adv_weight is None else f" model.adv_weight={adv_weight}"
    run(shrunk(f"python -m tradeoffs.train experiment=demo{weight} 'hydra.run.dir=\"{directory}\"'", {}), work, env)


def latest(pattern: str, cwd: Path) -> str:
    matches = sorted(cwd.glob(pattern))
    assert matches, pattern
    return str(matches[-1].relative_to(cwd))


class Lane:
    """Runs README blocks in order in one project directory, making what a command assumes exists first."""

    def __init__(self, work: Path, env: dict[str, str], image_folder: Path, swept: threading.Event) -> None:
        self.work, self.env, self.ran, self.swept = work, env, [], swept  # swept: the Sweeps section has run
        self.placeholders = {"/data/DIV2K/DIV2K_train_HR": str(image_folder), "[split=test]": "split=test"}
        self.placeholders["/data/DIV2K/DIV2K_valid_HR"] = str(image_folder)

    def prepare(self, command: str) -> None:
        work, env, fill = self.work, self.env, self.placeholders
        if "experiment=demo_own_network" in command and not (work / "examples").exists():
            shutil.copytree(REPO / "examples", work / "examples")  # run from a checkout, as the README says
        if "hydra.run.dir=logs/train/runs/demo/2026-11-23_00-10-00 ckpt_path=last" in command:
            demo_run("logs/train/runs/demo/2026-11-23_00-10-00", None, work, env)  # then interrupted after epoch
            (work / "logs/train/runs/demo/2026-11-23_00-10-00/results.json").unlink()  # 1 of 2: no results.json
        if "logs/demo/sweep/model.adv_weight=0.1,seed=0" in command:
            demo_run("logs/demo/sweep/model.adv_weight=0.1,seed=0", 0.1, work, env)
        if command.startswith("CKPT="):
            for weight in (0, 0.3):
                demo_run(f"logs/sweep/model.adv_weight={weight}", weight, work, env)
        if "logs/sweeps/demo/" in command:
            assert self.swept.wait(timeout=1800), "the Sweeps section never ran"
            fill["logs/sweeps/demo/..."] = latest("logs/sweeps/demo/*", work)
        if "logs/train/runs/demo/..." in command:
            best = latest(f"{latest('logs/train/runs/demo/*', work)}/checkpoints/best-*", work)
            fill["logs/train/runs/demo/.../checkpoints/best-epoch014.ckpt"] = best

    def blocks(self, blocks: list[list[str]]) -> None:
        try:
            self.run_blocks(blocks)
        finally:
            self.swept.set()  # a failed lane must not keep the other waiting

    def run_blocks(self, blocks: list[list[str]]) -> None:
        for block in blocks:
            script = []  # a block that sets a shell variable (CKPT=...) runs as one script from there on
            for command in block:
                if command in NOT_RUN or "tradeoffs.wrap" in command or "logs/wrapped" in command:
                    continue
                if re.match(r"[A-Z]+=", command):
                    script.append(command)
                    self.prepare(command)
                    continue
                self.prepare(command)
                line = shrunk(command, self.placeholders) + (
                    " trainer.max_epochs=2" if "ckpt_path=last" in command else ""
                )
                if command.startswith("python -m tradeoffs.train -m experiment=demo sweep=adv_weight"):
                    self.elsewhere(line)
                else:
                    run("\n".join([*script, line]), self.work, self.env)
                self.check(command, line)
                self.ran.append(command)
                sweeps = [c for c in block if c.startswith("python -m tradeoffs.train -m experiment=demo")]
                if sweeps and command == sweeps[-1]:
                    self.swept.set()  # the section's sweeps exist: its curve and the other lane's may draw them

    def check(self, command: str, line: str) -> None:
        """What the README says of a command's outcome, where it says more than that it runs."""
        if "sweep=sampler_eta" in command:  # "Rerunning into the same hydra.sweep.dir resumes it"
            eta = self.work / "logs" / "eta"
            assert {d.name for d in eta.iterdir() if d.is_dir()} == {"model.sampler.eta=0", "model.sampler.eta=1"}
            assert json.loads((eta / "model.sampler.eta=1" / "results.json").read_text())["sampler"]["eta"] == 1.0
            before = {p: p.read_bytes() for p in eta.rglob("results.json")}
            again = run(line, self.work, self.env)
            assert (again.stdout + again.stderr).count("skipped") == 2
            assert {p: p.read_bytes() for p in eta.rglob("results.json")} == before
        if command.startswith("python -m tradeoffs.curve logs/sweeps/lambda logs/eta logs/steps"):
            with open(self.work / "logs" / "sweeps" / "lambda" / "tradeoff.csv", newline="") as f:
                labels = {row["label"] for row in csv.DictReader(f)}
            assert labels == {"λ=0", "λ=0.1", "η=0", "η=1", "steps=1", "steps=2"}  # every sweep on one plane

    def elsewhere(self, line: str) -> None:
        """This one from another working directory, the project root given by TRADEOFFS_ROOT."""
        elsewhere = self.work.parent / "elsewhere"
        elsewhere.mkdir()
        run(line, elsewhere, self.env | {"TRADEOFFS_ROOT": str(self.work)})
        assert list((self.work / "logs" / "sweeps" / "demo").glob("*/*model.adv_weight=0.01*/results.json"))
        assert not (elsewhere / "logs").exists()


def test_every_readme_command_runs_as_written(tmp_path, image_folder):
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEOFFS_ROOT", "HYDRA_FULL_ERROR")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # this virtualenv, activated
    work = tmp_path / "project"  # a new user's working directory, not the repository
    work.mkdir()
    blocks = readme_blocks()
    commands = [c for block in blocks for c in block]
    wrap = {c for c in commands if "tradeoffs.wrap" in c or "logs/wrapped" in c}
    assert len(wrap) == 4, wrap  # each not run for WRAP_REASON
    # RUN, the README's diffusion checkpoint: the λ = 0 job of a λ sweep of diffusion restorers (logs/sweeps/lambda)
    sweep = "python -m tradeoffs.train -m experiment=smoke_diffusion 'model.adv_weight=0,0.1' trainer.max_epochs=1"
    run(f"{sweep} hydra.sweep.dir=logs/sweeps/lambda", work, env)
    # the sampler sweeps and the traversals in a lane of their own: every run of it names its directory, so the
    # other lane's default, per-second run directories never meet it
    second = [b for b in blocks if any("sweep=sampler_eta" in c or c.startswith("CKPT=") for c in b)]
    swept = threading.Event()
    lanes = [Lane(work, env, image_folder, swept), Lane(work, env, image_folder, swept)]
    for lane in lanes:
        lane.placeholders["RUN"] = "logs/sweeps/lambda/model.adv_weight=0,trainer.max_epochs=1"
    with ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(lanes[0].blocks, [b for b in blocks if b not in second]),
            pool.submit(lanes[1].blocks, second),
        ]
        for future in done:
            future.result()
    ran = lanes[0].ran + lanes[1].ran
    assert set(commands) == set(ran) | set(NOT_RUN) | wrap | {c for c in commands if re.match(r"[A-Z]+=", c)}
    assert set(NOT_RUN) <= set(commands), set(NOT_RUN) - set(commands)  # no stale exemption
    assert len(ran) >= 20, ran
