"""Cost of the measurement engine relative to a training epoch, measured in one process.

    .venv/bin/python scripts/benchmark_metrics.py [experiment=demo] [hydra overrides ...]

Times one training epoch (no validation, no callbacks) as the baseline, then the first measurement (which also
extracts the reference set's features and measures the floors) and the later ones (best of 3, from the cache), and
prints both as a share of the epoch.
"""

import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from tradeoffs.assemble import build_datamodule, build_model, compose_config, instantiate
from tradeoffs.callbacks.tradeoff_metrics import TradeoffMetrics


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

        callback = TradeoffMetrics(instantiate(cfg.metrics))
        callback.setup(trainer, model, "fit")
        timings = []
        for _ in range(4):
            start = time.perf_counter()
            callback.engine.measure(model, *callback.sets["val"])
            timings.append(time.perf_counter() - start)
        first, later = timings[0], min(timings[1:])

    print(f"device: {model.device}, torch threads: {torch.get_num_threads()}, overrides: {' '.join(overrides)}")
    print(f"training epoch ({cfg.data.samples_per_epoch} samples, batch {cfg.data.batch_size}): {epoch:8.3f} s")
    size = f"{cfg.metrics.num_images} images × {cfg.metrics.num_samples} samples"
    print(f"first measurement ({size}, + reference features and floors): {first:8.3f} s = {100 * first / epoch:5.1f}%")
    print(f"later measurements (cached reference), best of 3:             {later:8.3f} s = {100 * later / epoch:5.1f}%")
    print(f"first / later: {first / later:5.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
