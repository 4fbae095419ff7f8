"""Classical baselines: `python -m tradeoffs.baselines experiment=NAME [hydra.run.dir=OUT]`.

The experiment's data, degradation and metrics are composed as for training; every classical restorer of
`models.classical` that applies to the degradation, over its parameter grid, is measured like `evaluate` measures a
checkpoint, each into its own job directory labelled by its setting (`tv w=0.5`, `bicubic`, ...), which the curve
tool draws beside λ sweeps. Finished settings (results.json) are skipped: rerun into the same directory to resume.
"""

import logging
import re
from pathlib import Path

import hydra
from omegaconf import DictConfig

from tradeoffs.assemble import CONFIG_DIR, build_datamodule, measure_restorer
from tradeoffs.cli import run_job
from tradeoffs.core.runs import RunRecord, headline, progress
from tradeoffs.models.classical import ClassicalRestorer, classical_grid
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def job_name(label: str) -> str:
    """A directory name for a setting: `tv w=0.5` -> `tv_w=0.5`."""
    return re.sub(r"[^\w=.\-]+", "_", label)


def baselines(cfg: DictConfig) -> dict[str, RunRecord]:
    output_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    done = {}
    for label, method in classical_grid(datamodule.degradation).items():
        job_dir = output_dir / job_name(label)
        if (record := RunRecord.read(job_dir)) is None:
            restorer = ClassicalRestorer(method, datamodule.degradation, datamodule.source.channels, label)
            metrics, maximized = measure_restorer(restorer, datamodule, cfg, job_dir, "val", cfg.accelerator)
            overrides = [f"method={label}"]
            record = RunRecord(
                metrics, overrides, None, None, "val", {"baseline": label, "higher_is_better": maximized}
            )
            record.write_job(job_dir, cfg)
            progress.info("baseline %s: %s", label, headline(metrics))
        done[label] = record
    return done


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="baselines")
def main(cfg: DictConfig) -> None:
    run_job(baselines, cfg, log)


if __name__ == "__main__":
    main()
