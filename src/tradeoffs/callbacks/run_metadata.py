"""Run metadata carried by every checkpoint: the W&B run id (resumes reuse the run) and the training config
(`evaluate` rebuilds data and model from it, wherever the checkpoint was copied)."""

import uuid
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from tradeoffs.core.errors import ConfigError

RUN_ID_FILE = "wandb_run_id"
RUN_ID_KEY = "wandb_run_id"
CONFIG_KEY = "tradeoffs_config"


def config_to_store(cfg: DictConfig) -> dict:
    """The run's config without Hydra's own node, unresolved (paths re-resolve wherever it is used again)."""
    return {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"}


def stored_config(checkpoint: dict, ckpt_path: Path) -> DictConfig:
    """The training config a checkpoint carries (else RUN/.hydra/config.yaml beside RUN/checkpoints/)."""
    if CONFIG_KEY in checkpoint:
        return OmegaConf.create(checkpoint[CONFIG_KEY])
    config_file = ckpt_path.parent.parent / ".hydra" / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: holds no training config and {config_file} is missing")
    return OmegaConf.load(config_file)


def run_id_for(output_dir: str | Path, checkpoint: dict | None) -> str:
    """The checkpoint's run id, else the one saved in output_dir, else a new one (saved there)."""
    path = Path(output_dir) / RUN_ID_FILE
    run_id = (checkpoint or {}).get(RUN_ID_KEY)
    if run_id is None and path.is_file():
        run_id = path.read_text().strip()
    run_id = run_id or uuid.uuid4().hex[:12]  # W&B ids: lowercase letters and digits
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


class RunMetadata(pl.Callback):
    """Adds the run id and the (unresolved) training config to every checkpoint."""

    def __init__(self, run_id: str, cfg: DictConfig) -> None:
        self.run_id, self.config = run_id, config_to_store(cfg)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[RUN_ID_KEY] = self.run_id
        checkpoint[CONFIG_KEY] = self.config
