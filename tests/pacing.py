"""Test-only pacing: a callback that makes each training epoch last at least `seconds`, so that a job's duration
has a lower bound on any machine (the SLURM tests need jobs that outlive a time limit or a requeue, whatever the
speed of the estimators that validation runs)."""

import time

import pytorch_lightning as pl


class EpochPace(pl.Callback):
    def __init__(self, seconds: float) -> None:
        self.seconds, self.started = seconds, time.monotonic()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        time.sleep(max(0.0, self.seconds - (time.monotonic() - self.started)))
