"""Diffusion sampling speed: restorations per second for each sampler setting, measured in one process.

    .venv/bin/python scripts/benchmark_sampler.py [experiment=demo_diffusion] [--batch 64] [hydra overrides ...]

Builds the experiment's restorer (random weights: speed does not depend on them) and times `restore(y, K)` on a
batch of observations for DDIM/DDPM at several step counts and η. The baseline is DDIM with 10 steps, η = 0, fp32;
every other row prints its ratio to it. On a GPU it adds 250-step DDPM and bf16 autocast / channels-last rows for the
50-step sampler. The last rows compare ours with a plain diffusers DDIM loop (the scheduler's own prediction type,
no clipping, no projection) on the same network and x_T, 50 steps, η = 0: their ratio, and the largest difference of
their samples (ours with clip_x0 off must agree to rounding). About 3 minutes on 2 CPU cores with demo_diffusion.
"""

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch
from diffusers import DDIMScheduler

from tradeoffs.assemble import build_datamodule, build_model, compose_config
from tradeoffs.models.diffusion.sampler import Sampler

SETTINGS = [("ddim", 10, 0.0), ("ddim", 1, 0.0), ("ddim", 10, 1.0), ("ddim", 50, 0.0), ("ddim", 50, 1.0)]
SETTINGS += [("ddpm", 50, 1.0)]


def best_time(run, device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` calls of `run` after one warm-up call."""
    best = float("inf")
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start) if i else best
    return best


def time_restore(model, y: torch.Tensor, sampler: Sampler, autocast: bool, repeats: int) -> float:
    """Best wall time of `repeats` calls of restore(y, 1) (after one warm-up call)."""
    model.sampler = sampler
    context = torch.autocast(y.device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    generator = torch.Generator(y.device).manual_seed(0)
    with context:
        return best_time(lambda: model.restore(y, 1, generator=generator), y.device, repeats)


DIFFUSERS_PREDICTION = {"epsilon": "epsilon", "x0": "sample", "v": "v_prediction"}


@torch.no_grad()
def plain_diffusers_loop(model, y: torch.Tensor, x_T: torch.Tensor, steps: int) -> torch.Tensor:
    """The textbook loop: x ← DDIMScheduler.step(network(x, t, lift(y)), t, x) from x_T, in diffusion units."""
    config = dict(model.schedule.scheduler_config, prediction_type=DIFFUSERS_PREDICTION[model.prediction])
    scheduler = DDIMScheduler(**config)
    scheduler.set_timesteps(steps, device=y.device)
    net, lifted, x = model.inference_generator, model.degradation.lift(y), x_T
    for t in scheduler.timesteps:
        x = scheduler.step(net(x, t.expand(len(x)), lifted), t, x, eta=0.0).prev_sample
    return x


@torch.no_grad()
def ours_from(model, y: torch.Tensor, x_T: torch.Tensor, steps: int) -> torch.Tensor:
    """Our sampler (DDIM, η = 0, no clipping) from the same x_T, in diffusion units."""
    net, lifted = model.inference_generator, model.degradation.lift(y)

    def predict_x0(x_t, t):
        return model.schedule.predicted_x0(model.prediction, net(x_t, t, lifted), x_t, t)

    return Sampler("ddim", steps=steps, eta=0.0, clip_x0=False).sample(model.schedule, predict_x0, x_T)


def compare_with_diffusers(model, y: torch.Tensor, repeats: int) -> None:
    steps, shape = 50, (len(y), model.channels, *model.degradation.lift(y).shape[2:])
    x_T = torch.randn(shape, device=y.device, generator=torch.Generator(y.device).manual_seed(2))
    theirs = best_time(lambda: plain_diffusers_loop(model, y, x_T, steps), y.device, repeats)
    ours = best_time(lambda: ours_from(model, y, x_T, steps), y.device, repeats)
    gap = (ours_from(model, y, x_T, steps) - plain_diffusers_loop(model, y, x_T, steps)).abs().max().item()
    print(f"same network and x_T, DDIM {steps} steps, η = 0, no clipping:")
    print(f"{'diffusers loop':>22} {len(y) / theirs:10.1f} samples/s (baseline)")
    print(f"{'ours':>22} {len(y) / ours:10.1f} samples/s, ratio {theirs / ours:.2f}; max |difference| {gap:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="observations per restore call")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per setting (best is kept)")
    args, overrides = parser.parse_known_args()
    if not any(o.startswith("experiment=") for o in overrides):
        overrides = ["experiment=demo_diffusion", *overrides]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config("train", overrides, Path(tmp) / "run")
        datamodule = build_datamodule(cfg)
        model = build_model(cfg, datamodule).to(device).eval()
    channels, size, _ = datamodule.val_pairs.x.shape[1:]
    x = torch.rand(args.batch, channels, size, size, device=device, generator=torch.Generator(device).manual_seed(0))
    y = model.degradation(x, torch.Generator(device).manual_seed(1))
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{overrides[0]}: {args.batch} × {channels}×{size}×{size} per call on {name}")
    rows = [(kind, steps, eta, "fp32", False) for kind, steps, eta in SETTINGS]
    if device.type == "cuda":
        rows += [("ddpm", 250, 1.0, "fp32", False)]
        rows += [("ddim", 50, 1.0, "bf16 autocast", False), ("ddim", 50, 1.0, "bf16 + channels-last", True)]
    baseline = None
    print(f"{'sampler':>8} {'steps':>5} {'eta':>4} {'precision':>22} {'samples/s':>10} {'ms/step':>8} {'ratio':>6}")
    for kind, steps, eta, precision, channels_last in rows:
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        sampler = Sampler(kind, steps=steps, eta=eta, clip_x0=True)
        seconds = time_restore(model, y, sampler, precision != "fp32", args.repeats)
        rate = args.batch / seconds
        baseline = baseline or (rate if (kind, steps, eta) == ("ddim", 10, 0.0) else None)
        ratio = f"{rate / baseline:6.2f}" if baseline else "     -"
        print(f"{kind:>8} {steps:5d} {eta:4.1f} {precision:>22} {rate:10.1f} {1000 * seconds / steps:8.1f} {ratio}")
    model.to(memory_format=torch.contiguous_format)
    compare_with_diffusers(model, y, args.repeats)


if __name__ == "__main__":
    main()
