"""The Lightning adapter of the measurement engine: the three axes at the end of every validation epoch and of
every test run, on a fixed, seeded subset of the split's pairs.

Of the split's pairs, `num_images` (chosen once by `seed`) are restored K = `num_samples` times and measured; the
next `num_images` are the reference set B that perception compares with (unpaired) and that the floors use. With
fewer than 2·num_images pairs, perception compares with the clean inputs themselves and the floors are skipped.
The values are logged as `{val|test}/{axis}/{name}` (on W&B against `epoch`, summarised by their last and best
values); on the `gaussian` source with fixed-σ denoising the closed forms `uncertainty/inherent` (N(X|Y)) and
`distortion/mmse` (D*/d) are added. Constants (the real-vs-real `*_floor` values and the closed forms) are not
logged every epoch: they are kept in `constants` (results.json adds them) and written once to the W&B summary.
Callbacks that subclass `MeasurementListener` (image panels, the per-epoch table) then receive the whole measurement.
"""

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.seeding import generator_for
from tradeoffs.metrics.engine import Key, Measure, Measured, MeasurementEngine
from tradeoffs.theory.gaussian import denoising_theory

_SUBSET_STREAM = 0x5E7
CLOSED_FORMS = ("uncertainty/inherent", "distortion/mmse")


class MeasurementListener(pl.Callback):
    """A callback that consumes each measurement on the global-zero process (panels, tables, …)."""

    def on_measured(self, trainer: pl.Trainer, pl_module: pl.LightningModule, measured: Measured) -> None:
        raise NotImplementedError


class TradeoffMetrics(pl.Callback):
    def __init__(
        self,
        measures: dict[str, Measure | None],
        num_images: int = 32,
        num_samples: int = 4,
        patch_size: int = 4,
        features: str = "patches",
        batch_size: int = 16,
        seed: int = 0,
        y_channel: bool = False,
        crop_border: int | None = None,
    ) -> None:
        if num_images < 2:
            raise ConfigError(f"metrics.num_images={num_images} must be >= 2")
        self.engine = MeasurementEngine(
            measures, features, patch_size, num_samples, batch_size, seed, y_channel, crop_border
        )
        self.num_images, self.seed = num_images, seed
        self.sets: dict[str, tuple[Tensor, Tensor, Tensor | None]] = {}
        self.theory: dict[str, float] | None = None
        self.constants: dict[str, float] = {}  # floors and closed forms: the same every epoch

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Choose the subsets and prepare the engine: every check that can fail runs before training starts."""
        datamodule = trainer.datamodule
        split = "test" if stage == "test" else "val"
        if split in self.sets:
            return
        self.sets[split] = self.subset(datamodule.pairs(split), split)
        if self.theory is None:
            x, y, _ = self.sets[split]
            scale = max(1, x.shape[-1] // y.shape[-1])  # the super-resolution factor (1: same size)
            self.engine.prepare(x.shape[1], x.shape[2], x.shape[3], self.num_images, scale)
            self.theory = gaussian_closed_forms(datamodule)
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    define_keys(logger.experiment, self.engine.keys(split))

    def subset(self, pairs, split: str) -> tuple[Tensor, Tensor, Tensor | None]:
        """(x, y) of the measured subset A and the clean reference set B (None without room for it)."""
        if self.num_images > len(pairs):
            where = (
                "validation images (data.source.num_val)" if split == "val" else "test images (data.source.test_root)"
            )
            raise ConfigError(f"metrics.num_images={self.num_images} exceeds the {len(pairs)} {where}")
        order = torch.randperm(len(pairs), generator=generator_for(self.seed, _SUBSET_STREAM))
        chosen, reference = order[: self.num_images], order[self.num_images : 2 * self.num_images]
        if len(reference) < self.num_images:
            rank_zero_warn(
                f"perception floors skipped: they need 2 × metrics.num_images = {2 * self.num_images} {split} "
                f"images, there are {len(pairs)}"
            )
        return pairs.x[chosen], pairs.y[chosen], pairs.x[reference] if len(reference) == self.num_images else None

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
            x, y, reference = self.sets[stage]
            measured = self.engine.measure(pl_module, x, y, reference, stage, trainer.current_epoch)
            measured.values |= {f"{stage}/{key}": value for key, value in self.theory.items()}
            for callback in trainer.callbacks:
                if isinstance(callback, MeasurementListener):
                    callback.on_measured(trainer, pl_module, measured)
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


def is_constant(name: str) -> bool:
    """A value that no epoch changes: a real-vs-real floor or a closed form of the data."""
    return name.endswith("_floor") or name.split("/", 1)[-1] in CLOSED_FORMS


def define_keys(run, keys: dict[str, Key]) -> None:
    """Each measured key on a W&B run: charted against `epoch`; its summary holds the last value (the model the
    run ends with, as in results.json) beside the best one (max if higher is better, else min)."""
    for name, key in keys.items():
        if not is_constant(name):
            run.define_metric(name, step_metric="epoch", summary="last,max" if key.higher_is_better else "last,min")


def gaussian_closed_forms(datamodule) -> dict[str, float]:
    """N(X|Y) and the per-pixel MMSE for fixed-σ denoising of the `gaussian` source; {} otherwise."""
    theory = denoising_theory(datamodule.source, datamodule.degradation)
    if theory is None:
        return {}
    return dict(zip(CLOSED_FORMS, (theory.inherent_uncertainty, theory.mmse / theory.dim), strict=True))
