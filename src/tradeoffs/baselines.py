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
from tradeoffs.core.runs import RunRecord, measure_jobs
from tradeoffs.models.classical import ClassicalRestorer, Method, classical_grid
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def job_name(label: str) -> str:
    """A directory name for a setting: `tv w=0.5` -> `tv_w=0.5`."""
    return re.sub(r"[^\w=.\-]+", "_", label)


def baselines(cfg: DictConfig) -> dict[str, RunRecord]:
    output_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    degradation, channels = datamodule.degradation, datamodule.source.channels

    def job(label: str, method: Method):
        job_dir = output_dir / job_name(label)

        def run() -> RunRecord:
            restorer = ClassicalRestorer(method, degradation, channels, label)
            metrics, maximized = measure_restorer(restorer, datamodule, cfg, job_dir, "val", cfg.accelerator)
            extra = {"baseline": label, "higher_is_better": maximized}
            record = RunRecord(metrics, [f"method={label}"], None, None, "val", extra)
            record.write_job(job_dir, cfg)
            return record

        return label, job_dir, run

    return measure_jobs((job(*item) for item in classical_grid(degradation).items()), "baseline")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="baselines")
def main(cfg: DictConfig) -> None:
    run_job(baselines, cfg, log)


if __name__ == "__main__":
    main()
