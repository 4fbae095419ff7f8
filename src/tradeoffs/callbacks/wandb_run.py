"""W&B run continuity: the run id lives in the run directory and in every checkpoint, so resumes reuse the run."""

import uuid
from pathlib import Path

import pytorch_lightning as pl

RUN_ID_FILE = "wandb_run_id"
CHECKPOINT_KEY = "wandb_run_id"


def run_id_for(output_dir: str | Path, checkpoint: dict | None) -> str:
    """The checkpoint's run id, else the one saved in output_dir, else a new one (saved there)."""
    path = Path(output_dir) / RUN_ID_FILE
    run_id = (checkpoint or {}).get(CHECKPOINT_KEY)
    if run_id is None and path.is_file():
        run_id = path.read_text().strip()
    run_id = run_id or uuid.uuid4().hex[:12]  # W&B ids: lowercase letters and digits
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


class SaveRunId(pl.Callback):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = self.run_id
