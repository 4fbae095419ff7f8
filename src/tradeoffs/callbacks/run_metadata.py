"""Run metadata carried by every checkpoint: the W&B run id (resumes reuse the run) and the training config
(`evaluate` rebuilds data and model from it, wherever the checkpoint was copied)."""

import uuid
from pathlib import Path

import pytorch_lightning as pl

RUN_ID_FILE = "wandb_run_id"
RUN_ID_KEY = "wandb_run_id"
CONFIG_KEY = "tradeoffs_config"


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

    def __init__(self, run_id: str, config: dict) -> None:
        self.run_id, self.config = run_id, config

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[RUN_ID_KEY] = self.run_id
        checkpoint[CONFIG_KEY] = self.config
