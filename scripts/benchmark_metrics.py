"""Cost of the TradeoffMetrics callback relative to a training epoch, measured in one process.

    .venv/bin/python scripts/benchmark_metrics.py [experiment=demo] [hydra overrides ...]

Times one training epoch (no validation, no callbacks) as the baseline, then one metrics pass with the configured
settings (best of 3) and the one-off real-vs-real floor, and prints the ratio.
"""

import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from tradeoffs.assemble import build_datamodule, build_model, compose_config, instantiate


def main(overrides: list[str]) -> None:
    if not any(o.startswith("experiment=") for o in overrides):
        overrides = ["experiment=demo", *overrides]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config("train", overrides, Path(tmp) / "run")
        pl.seed_everything(cfg.seed)
        datamodule = build_datamodule(cfg)
        model = build_model(cfg, datamodule)
        trainer = pl.Trainer(
            accelerator=cfg.trainer.accelerator,
            devices=1,
            max_epochs=1,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        epoch = time.perf_counter() - start

        callback = instantiate(cfg.metrics)
        callback.setup(trainer, model, "fit")
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            callback.measure(model)
            timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        callback.perception_floor(model.device)
        floor = time.perf_counter() - start

    print(f"device: {model.device}, torch threads: {torch.get_num_threads()}, overrides: {' '.join(overrides)}")
    print(f"training epoch ({cfg.data.samples_per_epoch} samples, batch {cfg.data.batch_size}): {epoch:8.3f} s")
    print(
        f"metrics pass ({cfg.metrics.num_images} images × {cfg.metrics.num_samples} samples), best of 3:"
        f" {min(timings):8.3f} s  = {100 * min(timings) / epoch:5.1f}% of the epoch"
    )
    print(f"real-vs-real floor (once per run): {floor:8.3f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
