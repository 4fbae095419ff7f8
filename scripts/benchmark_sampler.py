"""Diffusion sampling speed: restorations per second for each sampler setting, measured in one process.

    .venv/bin/python scripts/benchmark_sampler.py [experiment=demo_diffusion] [--batch 64] [hydra overrides ...]

Builds the experiment's restorer (random weights: speed does not depend on them) and times `restore(y, K)` on a
batch of observations for DDIM/DDPM at several step counts and η. The baseline is DDIM with 10 steps, η = 0, fp32;
every other row prints its ratio to it. On a GPU it adds 250-step DDPM and bf16 autocast / channels-last rows for the
50-step sampler. About 3 minutes on 2 CPU cores with the default demo_diffusion model.
"""

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch

from tradeoffs.assemble import build_datamodule, build_model, compose_config
from tradeoffs.models.diffusion.sampler import Sampler

SETTINGS = [("ddim", 10, 0.0), ("ddim", 1, 0.0), ("ddim", 10, 1.0), ("ddim", 50, 0.0), ("ddim", 50, 1.0)]
SETTINGS += [("ddpm", 50, 1.0)]


def time_restore(model, y: torch.Tensor, sampler: Sampler, autocast: bool, repeats: int) -> float:
    """Best wall time of `repeats` calls of restore(y, 1) (after one warm-up call)."""
    model.sampler = sampler
    context = torch.autocast(y.device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    best = float("inf")
    with context:
        for i in range(repeats + 1):
            if y.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model.restore(y, 1, generator=torch.Generator(y.device).manual_seed(i))
            if y.is_cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start) if i else best
    return best


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
        size = cfg.data.source.crop_size
        datamodule = build_datamodule(cfg)
        model = build_model(cfg, datamodule).to(device).eval()
    channels = cfg.data.source.channels
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


if __name__ == "__main__":
    main()
