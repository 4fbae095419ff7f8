"""The base of every trained restorer: `restore(y, num_samples) -> (B, K, C, H, W)` and the rest of the protocol
measurement calls (`tradeoffs.metrics.protocol.MeasuredRestorer`), plus whole-set validation/test distortion."""

from abc import abstractmethod

import pytorch_lightning as pl
import torch
from torch import Tensor

from tradeoffs.data.degradations import Degradation
from tradeoffs.data.seeding import generator_for
from tradeoffs.metrics.distortion import distortion_metrics

_EVAL_STREAM = 0xE7


class Restorer(pl.LightningModule):
    """Base LightningModule: validation/test distortion of one restored sample per input.

    Subclasses implement `restore` (and `auxiliary_maps` if they have any); measurement uses only the protocol.
    Evaluation randomness is seeded by (seed, batch index), so validation never consumes the training RNG and two
    evaluations of the same weights agree exactly.
    """

    def __init__(self, degradation: Degradation, channels: int, seed: int = 0) -> None:
        super().__init__()
        self.degradation, self.channels, self.seed = degradation, channels, seed

    @abstractmethod
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """K = num_samples restorations of each observation: (B, K, C, H, W)."""

    def eval_generator(self, *keys: int) -> torch.Generator:
        return generator_for(self.seed, _EVAL_STREAM, *keys, device=self.device)

    def auxiliary_maps(self, y: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-pixel maps (B, 1, H, W) that explain a restoration (a fusion restorer's φ); none by default."""
        return {}

    def setup(self, stage: str) -> None:
        size = min(self.trainer.datamodule.val_pairs.x.shape[-2:])
        self.val_metrics = distortion_metrics("val/distortion/", size)
        self.test_metrics = distortion_metrics("test/distortion/", size)

    def _evaluate(self, batch: dict[str, Tensor], batch_idx: int, metrics) -> None:
        x_hat = self.restore(batch["y"], 1, generator=self.eval_generator(batch_idx))[:, 0]
        metrics.update(x_hat, batch["x"])
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(x_hat))

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.val_metrics)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.test_metrics)
