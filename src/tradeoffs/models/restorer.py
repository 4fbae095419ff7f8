"""The bases of every restorer: `restore(y, num_samples) -> (B, K, C, H, W)` and the rest of the protocol
measurement calls (`tradeoffs.metrics.protocol.MeasuredRestorer`): `Restorer` for the trained ones (a
LightningModule, plus whole-set validation/test distortion), `FixedRestorer` for those nothing trains."""

from abc import abstractmethod

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Degradation
from tradeoffs.metrics.distortion import distortion_metrics
from tradeoffs.metrics.measuring import first_restoration

_EVAL_STREAM = 0xE7


class ProtocolDefaults:
    """What every restorer shares of the protocol: seeded evaluation draws and no auxiliary maps.

    Evaluation randomness is seeded by (seed, keys), so measurement never consumes the training RNG and two
    evaluations of the same weights agree exactly."""

    seed: int
    device: torch.device

    def eval_generator(self, *keys: int) -> torch.Generator:
        return generator_for(self.seed, _EVAL_STREAM, *keys, device=self.device)

    def auxiliary_maps(self, y: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-pixel maps (B, 1, H, W) that explain a restoration (a fusion restorer's φ); none by default."""
        return {}


class FixedRestorer(ProtocolDefaults, nn.Module):
    """A restorer nothing trains (classical filters, reference estimators): a plain torch module implementing the
    protocol, measured without a trainer. Its tensors are buffers, so `.to(device)` moves them."""

    def __init__(self, degradation: Degradation, channels: int, seed: int = 0) -> None:
        super().__init__()
        self.degradation, self.channels, self.seed = degradation, channels, seed

    @property
    def device(self) -> torch.device:
        return next(self.buffers(), torch.empty(0)).device

    @abstractmethod
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """K = num_samples restorations of each observation: (B, K, C, H, W)."""


class Restorer(ProtocolDefaults, pl.LightningModule):
    """Base of the trained restorers: a LightningModule with validation/test distortion of one restored sample per
    input (the split's batches, drawn as `metrics.measuring.first_restoration` draws them).

    Subclasses implement `restore` (and `auxiliary_maps` if they have any); measurement uses only the protocol.
    """

    def __init__(self, degradation: Degradation, channels: int, seed: int = 0) -> None:
        super().__init__()
        self.degradation, self.channels, self.seed = degradation, channels, seed

    @abstractmethod
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """K = num_samples restorations of each observation: (B, K, C, H, W)."""

    def check_start(self) -> None:
        """ConfigError naming the key of a file a new run would start from (a warm start, a weights file) that does
        not exist; called by `train` before the trainer is built. Checking here, not in `__init__`, keeps a
        checkpoint loadable after those files are gone: it carries their tensors."""

    def setup(self, stage: str) -> None:
        size = min(self.trainer.datamodule.val_pairs.x.shape[-2:])
        self.val_metrics = distortion_metrics("val/distortion/", size)
        self.test_metrics = distortion_metrics("test/distortion/", size)

    def _evaluate(self, batch: dict[str, Tensor], batch_idx: int, metrics) -> None:
        x_hat = first_restoration(self, batch["y"], batch_idx)
        metrics.update(x_hat, batch["x"])
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(x_hat))

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.val_metrics)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.test_metrics)


def adversarial_weight(restorer: object) -> float | None:
    """λ as the restorer stores it among its hyperparameters (None for a restorer trained without one): the one
    place a run record's λ is read from."""
    value = getattr(restorer, "hparams", {}).get("adv_weight")
    return None if value is None else float(value)
