"""Does data or compute bound an `sr4_folder` run? Crops/s of the folder source against the training step rate.

    .venv/bin/python scripts/benchmark_data.py [--images 8] [--seconds 5] [--steps 3]

Writes `--images` PNGs of DIV2K size (2040×1356, smooth noise: PNG-compressible like photos) to a temp folder, then
measures in this process: 128-pixel training crops/s of `data=folder` decoding each file per crop (the baseline,
`cache_dir=null`) and from the decoded cache (first pass fills it, then timed), the cached rate with a DataLoader of
cpu_count workers (each item also degraded ×4, as training sees it), and the training steps/s of `experiment=sr4_folder`
on this machine's device at its batch size. Prints the ratios: cache vs decode, and samples/s the loader delivers
against samples/s a step consumes.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from tradeoffs.assemble import build_datamodule, build_model, compose_config
from tradeoffs.data.folder import ImageFolder


def write_images(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        noise = gaussian_filter(rng.standard_normal((1356, 2040, 3)), sigma=(6, 6, 0))
        image = np.clip(128 + 40 * noise / noise.std(), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:04d}.png")


def crops_per_second(source: ImageFolder, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        source.sample(torch.Generator().manual_seed(count))
        count += 1
    return count / (time.perf_counter() - start)


def loader_rate(cfg, seconds: float) -> float:
    datamodule = build_datamodule(cfg)
    loader = datamodule.train_dataloader()
    count, start = 0, None
    for batch in loader:
        if start is None:  # the workers have started and delivered once
            start = time.perf_counter()
            continue
        count += len(batch["x"])
        if time.perf_counter() - start > seconds:
            break
    return count / (time.perf_counter() - start)


def step_rate(cfg, steps: int) -> float:
    pl.seed_everything(0)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    kwargs = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer = pl.Trainer(accelerator="auto", devices=1, max_steps=1, limit_val_batches=0, **kwargs)
    trainer.fit(model, datamodule=datamodule)  # warm-up step
    trainer = pl.Trainer(accelerator="auto", devices=1, max_steps=steps, limit_val_batches=0, **kwargs)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "train", Path(tmp) / "cache"
        root.mkdir()
        write_images(root, args.images)
        decode = crops_per_second(ImageFolder(str(root), 128, val_fraction=0.25), args.seconds)
        cached_source = ImageFolder(str(root), 128, val_fraction=0.25, cache_dir=str(cache))
        for path in cached_source.files:
            cached_source.cache.array(path, 3)  # the one-time decode
        cached = crops_per_second(cached_source, args.seconds)
        overrides = [
            "experiment=sr4_folder",
            f"data.source.root={root}",
            f"data.source.cache_dir={cache}",
            "data.source.val_fraction=0.25",
            "data.source.val_crop_size=128",
            "data.source.num_val=2",
            f"data.num_workers={workers}",
            "trainer=cpu" if not torch.cuda.is_available() else "trainer=gpu",
        ]
        cfg = compose_config("train", overrides, Path(tmp) / "run")
        delivered = loader_rate(cfg, args.seconds)
        steps = step_rate(cfg, args.steps)
    batch = cfg.data.batch_size
    print(f"2040x1356 PNGs, 128-pixel crops, {workers} CPU core(s)")
    print(f"  decode per crop (baseline)      {decode:9.1f} crops/s per process")
    print(
        f"  decoded cache                   {cached:9.1f} crops/s per process   ({cached / decode:.0f}x the baseline)"
    )
    print(f"  DataLoader, {workers:2d} workers, ×4 SR   {delivered:9.1f} samples/s")
    print(f"  sr4_folder training step        {steps:9.3f} steps/s = {steps * batch:.1f} samples/s (batch {batch})")
    bound = "data" if delivered < steps * batch else "compute"
    print(f"  loader / step demand            {delivered / (steps * batch):9.1f}x   -> {bound} bounds this machine")


if __name__ == "__main__":
    main()
