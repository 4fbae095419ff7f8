"""Evaluate a checkpoint: `python -m tradeoffs.evaluate ckpt_path=RUN/checkpoints/last.ckpt [split=test]`.

Data, model and metrics are rebuilt from the training config stored in the checkpoint, with `+model.KEY=VALUE`
(any key of the checkpoint's model config, e.g. a diffusion sampler's `+model.sampler.eta=0.5`) and then the
`overrides` dotlist applied; the checkpoint's weights are loaded, and distortion, perception and uncertainty (+ the
post-hoc critic's Ŵ1 with `posthoc_critic=true`) are written to `results.json` in this evaluation's own output
directory, the file the curve tool reads. Sampler sweeps of one checkpoint:
`python -m tradeoffs.evaluate -m ckpt_path=... sweep=sampler_eta`. An output directory that already holds
results.json is skipped, so an interrupted evaluation sweep resumes by running it again into its directory.
`export_samples=K export_dir=DIR` also writes the measured subset and its K samples as PNG folders
(`assemble.export_restorations`), the layout `evaluate_outputs` and PUQ read.
"""

import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tradeoffs.assemble import CONFIG_DIR, evaluation_setup, export_restorations, measure_restorer
from tradeoffs.cli import run_dir_logs_detached, run_job
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import RunRecord, headline, progress, write_job_config
from tradeoffs.models.restorer import adversarial_weight
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def with_measured_task(cfg: DictConfig, train_cfg: DictConfig) -> DictConfig:
    """The evaluate config plus the checkpoint's `data` and `degradation` (resolved): a job directory names the task it
    measured, as a training job's does (the curve tool's theory overlays read it)."""
    task = {key: OmegaConf.to_container(train_cfg[key], resolve=True) for key in ("data", "degradation")}
    return OmegaConf.merge(OmegaConf.create(OmegaConf.to_container(cfg)), task)


def evaluate(cfg: DictConfig) -> RunRecord:
    output_dir = Path(cfg.paths.output_dir)
    if (done := RunRecord.read(output_dir)) is not None:
        with run_dir_logs_detached(output_dir):
            progress.info("%s holds results.json already: skipped (delete it to evaluate again)", output_dir)
        return done
    if HydraConfig.initialized():
        write_job_config(output_dir, cfg, HydraConfig.get())
    train_cfg, datamodule, model = evaluation_setup(cfg)
    if HydraConfig.initialized():
        write_job_config(output_dir, with_measured_task(cfg, train_cfg), HydraConfig.get())
    if cfg.export_samples:
        if cfg.export_dir is None:
            raise ConfigError("export_samples needs export_dir=DIR (a new directory)")
        with torch.no_grad():
            exported = export_restorations(model, datamodule, train_cfg, cfg.split, cfg.export_samples, cfg.export_dir)
        progress.info("exported %d samples per input to %s", cfg.export_samples, exported)
    metrics, maximized = measure_restorer(
        model, datamodule, train_cfg, output_dir, cfg.split, cfg.accelerator, cfg.posthoc_critic
    )
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    extra = {"config_overrides": list(cfg.overrides), "higher_is_better": maximized}
    if cfg.export_samples:
        extra["export_dir"] = str(exported)
    if "sampler" in train_cfg.model:
        extra["sampler"] = OmegaConf.to_container(train_cfg.model.sampler)
    record = RunRecord(
        metrics,
        overrides,
        str(cfg.ckpt_path),
        adversarial_weight(model),
        cfg.split,
        extra,
    )
    record.write(output_dir)
    log.info("evaluation of %s: %s", cfg.ckpt_path, metrics)
    settings = [o for o in overrides if not o.startswith(("ckpt_path=", "sweep="))]
    progress.info(
        "evaluated %s (%s): %s -> %s", cfg.ckpt_path, " ".join(settings) or "as trained", headline(metrics), output_dir
    )
    return record


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_job(evaluate, cfg, log)


if __name__ == "__main__":
    main()
