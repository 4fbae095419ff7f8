"""Run metadata carried by every checkpoint (`core.runs` defines the keys): the W&B run id (resumes reuse the run)
and the training config (`evaluate` rebuilds data and model from it, wherever the checkpoint was copied)."""

import pytorch_lightning as pl
from omegaconf import DictConfig

from tradeoffs.core.runs import CONFIG_KEY, RUN_ID_KEY, config_to_store


class RunMetadata(pl.Callback):
    """Adds the run id and the (unresolved) training config to every checkpoint."""

    def __init__(self, run_id: str, cfg: DictConfig) -> None:
        self.run_id, self.config = run_id, config_to_store(cfg)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[RUN_ID_KEY] = self.run_id
        checkpoint[CONFIG_KEY] = self.config
