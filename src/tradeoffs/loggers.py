"""Loggers: a CSV logger that appends on resume (Lightning's deletes an existing metrics.csv), and W&B without a
deprecated setting."""

import csv

from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = list(csv.DictReader(file).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """Writes `{save_dir}/metrics.csv`; a resumed run keeps earlier rows and appends its own."""

    def __init__(self, save_dir: str, **kwargs) -> None:
        super().__init__(save_dir=save_dir, name="", version="", **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class WandbRunLogger(WandbLogger):
    """Lightning's WandbLogger without the `anonymous` setting it always passes to `wandb.init`, which W&B has
    deprecated and warns about on every run."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._wandb_init.pop("anonymous", None)
