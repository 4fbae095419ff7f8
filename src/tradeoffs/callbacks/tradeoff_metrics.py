"""The Lightning adapter of the measurement engine: the three axes at the end of every validation epoch and of
every test run, on the engine's fixed, seeded subset of the split (`MeasurementEngine.subset`).

The values are logged as `{val|test}/{axis}/{name}` (on W&B against `epoch`, summarised by their last and best
values); on the `gaussian` source with fixed-σ denoising the closed forms `uncertainty/inherent` (N(X|Y)) and
`distortion/mmse` (D*/d) are added. Constants (the real-vs-real `*_floor` values and the closed forms) are not
logged every epoch: they are kept in `constants` (results.json adds them) and written once to the W&B summary.
Callbacks that subclass `MeasurementListener` (image panels, the per-epoch table) then receive the whole measurement.
"""

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from tradeoffs.metrics.engine import MeasurementEngine, Subset
from tradeoffs.metrics.measure import Key, Measured
from tradeoffs.metrics.measuring import gaussian_closed_forms, is_constant, measure, prepared_subset


class MeasurementListener(pl.Callback):
    """Consumes each measurement (on the global-zero process under DDP): image panels, tables, …; `loggers` are the
    trainer's (none outside training)."""

    def on_measured(self, measured: Measured, loggers: list = ()) -> None:
        raise NotImplementedError


class TradeoffMetrics(pl.Callback):
    def __init__(self, engine: MeasurementEngine) -> None:
        self.engine = engine
        self.sets: dict[str, Subset] = {}
        self.theory: dict[str, float] | None = None
        self.constants: dict[str, float] = {}  # floors and closed forms: the same every epoch

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Choose the subsets and prepare the engine: every check that can fail runs before training starts."""
        datamodule = trainer.datamodule
        split = "test" if stage == "test" else "val"
        if split in self.sets:
            return
        if self.theory is None:
            self.sets[split] = prepared_subset(self.engine, datamodule.pairs(split), split)
            self.theory = gaussian_closed_forms(datamodule.source, datamodule.degradation)
        else:
            self.sets[split] = self.engine.subset(datamodule.pairs(split), split)
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    define_keys(logger.experiment, self.engine.keys(split))

    def maximized(self) -> list[str]:
        """The measured keys where higher is better (for the run record: the curve tool orients fronts by them)."""
        return [name for split in self.sets for name in self.engine.maximized(split)]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.measure(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.measure(trainer, pl_module, "test")

    def measure(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> dict[str, float]:
        """Measure on the global-zero process and hand the values to every process: under DDP each image of the
        subset counts once, and the values are those of a single-process run with the same weights."""
        values = None
        if trainer.is_global_zero:
            listeners = [
                lambda measured, listener=c: listener.on_measured(measured, trainer.loggers)
                for c in trainer.callbacks
                if isinstance(c, MeasurementListener)
            ]
            measured = measure(
                self.engine,
                self.sets[stage],
                stage,
                restorer=pl_module,
                epoch=trainer.current_epoch,
                step=trainer.global_step,
                closed_forms=self.theory,
                listeners=listeners,
            )
            values = measured.values
        if trainer.world_size > 1:
            values = trainer.strategy.broadcast(values, src=0)
        constants = {k: v for k, v in values.items() if is_constant(k)}
        if trainer.is_global_zero and constants.items() - self.constants.items():
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.experiment.summary.update(constants)
        self.constants |= constants
        # identical on every process: the mean over processes (sync_dist) is the value itself
        varying = {k: v for k, v in values.items() if k not in constants}
        pl_module.log_dict(varying, on_epoch=True, sync_dist=trainer.world_size > 1)
        return values


def define_keys(run, keys: dict[str, Key]) -> None:
    """Each measured key on a W&B run: charted against `epoch`; its summary holds the last value (the model the
    run ends with, as in results.json) beside the best one (max if higher is better, else min)."""
    for name, key in keys.items():
        if not is_constant(name):
            run.define_metric(name, step_metric="epoch", summary="last,max" if key.higher_is_better else "last,min")
