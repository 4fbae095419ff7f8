"""The per-epoch table of a run: one row of every measurement in `tradeoff_epochs.csv` (the curve tool's
`--epochs` trajectories read it)."""

import csv
from pathlib import Path

import pytorch_lightning as pl

from tradeoffs.callbacks.tradeoff_metrics import MeasurementListener
from tradeoffs.core.runs import EPOCHS_FILE
from tradeoffs.metrics.engine import Measured


class EpochTable(MeasurementListener):
    def __init__(self, output_dir: str) -> None:
        self.path = Path(output_dir) / EPOCHS_FILE

    def on_measured(self, trainer: pl.Trainer, pl_module: pl.LightningModule, measured: Measured) -> None:
        row = {"epoch": measured.epoch, "step": trainer.global_step, "stage": measured.stage, **measured.values}
        append_row(self.path, row)


def append_row(path: Path, row: dict) -> None:
    """Append a row to a CSV file, widening its header when new keys appear (earlier rows are kept)."""
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append(row)
    header = list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
