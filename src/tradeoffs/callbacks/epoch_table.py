"""The per-epoch table of a run: one row of every measurement in `tradeoff_epochs.csv` (the curve tool's
`--epochs` trajectories read it). An epoch measured again replaces its row and any later ones of that stage: a job
stopped after measuring an epoch but before checkpointing it (a SLURM time limit can fall there) redoes that epoch
on resume, and the table keeps one row per epoch."""

import csv
from collections.abc import Callable
from pathlib import Path

from tradeoffs.callbacks.tradeoff_metrics import MeasurementListener
from tradeoffs.core.runs import EPOCHS_FILE
from tradeoffs.metrics.measure import Measured


class EpochTable(MeasurementListener):
    def __init__(self, output_dir: str) -> None:
        self.path = Path(output_dir) / EPOCHS_FILE

    def on_measured(self, measured: Measured, loggers: list = ()) -> None:
        row = {"epoch": measured.epoch, "step": measured.step, "stage": measured.stage, **measured.values}
        append_row(self.path, row, redone=lambda r: r["stage"] == measured.stage and int(r["epoch"]) >= measured.epoch)


def append_row(path: Path, row: dict, redone: Callable[[dict], bool] = lambda r: False) -> None:
    """Append a row to a CSV file, widening its header when new keys appear; earlier rows are kept unless `redone`
    says the new row replaces them."""
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if not redone(r)]
    rows.append(row)
    header = list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
