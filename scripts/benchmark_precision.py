"""Training step time in fp32 and in bf16 autocast (what trainer=gpu uses), measured in one process.

    .venv/bin/python scripts/benchmark_precision.py [experiment=sr4_folder] [--batch 16] [--steps 20] [overrides ...]

Builds the experiment's GAN restorer (random weights: speed does not depend on them) and times full training steps
on random crops: the critic's step and the generator's (distortion + λ·adversarial, backward, Adam), as
`AdversarialRestorer.training_step` runs them. fp32 is the baseline; bf16 prints its ratio. On the CPU it runs a
batch of 2 for 2 steps (bf16 autocast on a CPU says little about a GPU).
"""

import argparse
import contextlib
import copy
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate

from tradeoffs.assemble import compose_config
from tradeoffs.core.seeding import generator_for


def training_step(model, opt_g, opt_d, x, y, rng) -> None:
    lifted = model.degradation.lift(y)
    with torch.no_grad():
        fake, _ = model.training_output(x, y, lifted, rng)
    loss_d, _ = model.critic_loss(x, fake, lifted, rng)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_g, _ = model.generator_loss(*model.training_output(x, y, lifted, rng), lifted)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()


def seconds_per_step(model, x, y, bf16: bool, steps: int) -> float:
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-4) for m in (model.generator, model.critic))
    context = torch.autocast(x.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    rng = generator_for(0, 1, device=x.device)
    with context:
        training_step(model, opt_g, opt_d, x, y, rng)  # warm-up (cuDNN autotuning, allocations)
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            training_step(model, opt_g, opt_d, x, y, rng)
        if x.is_cuda:
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="crops per step (the experiment's data.batch_size)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per precision")
    args, overrides = parser.parse_known_args()
    if not any(o.startswith("experiment=") for o in overrides):
        overrides = ["experiment=sr4_folder", "model.adv_weight=0.005", *overrides]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batch, steps = (args.batch, args.steps) if device.type == "cuda" else (2, 2)
    torch.backends.cudnn.benchmark = True  # as trainer=gpu sets it
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config("train", overrides, Path(tmp) / "run")
    model = instantiate(copy.deepcopy(cfg).model).to(device)
    size, channels = cfg.data.source.crop_size, cfg.data.source.channels
    x = torch.rand(batch, channels, size, size, device=device, generator=torch.Generator(device).manual_seed(0))
    y = model.degradation(x, torch.Generator(device).manual_seed(1))
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    params = sum(p.numel() for p in model.generator.parameters()) / 1e6
    print(f"{overrides[0]}: {batch} crops of {channels}×{size}×{size}, generator {params:.1f} M parameters, on {name}")
    fp32 = seconds_per_step(model, x, y, bf16=False, steps=steps)
    bf16 = seconds_per_step(model, x, y, bf16=True, steps=steps)
    print(f"{'precision':>10} {'ms/step':>9} {'crops/s':>8} {'ratio':>6}")
    for label, seconds in (("fp32", fp32), ("bf16", bf16)):
        print(f"{label:>10} {1000 * seconds:9.1f} {batch / seconds:8.1f} {fp32 / seconds:6.2f}")


if __name__ == "__main__":
    main()
