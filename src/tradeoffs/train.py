"""Train a restorer: `python -m tradeoffs.train experiment=demo model.adv_weight=0.01` (Hydra overrides)."""

import logging
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import wandb
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from tradeoffs.assemble import (
    CONFIG_DIR,
    build_datamodule,
    build_model,
    build_trainer,
    higher_is_better,
    reported_metrics,
)
from tradeoffs.callbacks.run_metadata import RunMetadata
from tradeoffs.cli import run_dir_logs_detached, run_job
from tradeoffs.core.runs import (
    CONFIG_KEY,
    LAST_CHECKPOINT,
    RESULTS_FILE,
    RunRecord,
    Start,
    config_to_store,
    headline,
    plan_start,
    progress,
    run_id_for,
    trusted,
    write_job_config,
)
from tradeoffs.models.restorer import adversarial_weight
from tradeoffs.sweeps.ddp_children import children_run_this_job
from tradeoffs.sweeps.lease import leased_devices, register_resolvers

log = logging.getLogger(__name__)
register_resolvers()
progress.addFilter(lambda _: rank_zero_only.rank == 0)  # DDP: one progress line per job, not one per process


def job_title(cfg: DictConfig) -> str:
    """`demo λ=0.1 seed=0`: what a progress line calls the job."""
    adv_weight = cfg.model.get("adv_weight")
    weight = [f"λ={adv_weight:g}"] if isinstance(adv_weight, int | float) else []
    return " ".join([cfg.experiment_name, *weight, f"seed={cfg.seed}"])


def train(cfg: DictConfig) -> RunRecord:
    """Fit `cfg.model` on `cfg.data`; resume from `cfg.ckpt_path`; write results.json. Returns the results.

    What the run directory holds decides first, writing nothing (core.runs.plan_start): with ckpt_path=auto a
    finished run is skipped and an unfinished one resumed; a command that would overwrite or alter a run is
    refused."""
    output_dir = Path(cfg.paths.output_dir)
    title = job_title(cfg)
    with run_dir_logs_detached(output_dir):
        start = plan_start(cfg.ckpt_path, output_dir, config_to_store(cfg), CONFIG_KEY)
        if start.finished is not None:
            progress.info("%s: finished already, skipped (%s)", title, headline(start.finished.metrics))
            return start.finished
    if HydraConfig.initialized() and rank_zero_only.rank == 0:
        write_job_config(output_dir, cfg, HydraConfig.get())
    began = time.monotonic()
    verb = f"resuming {start.checkpoint_path.name}" if start.checkpoint_path is not None else "training"
    progress.info("%s: %s, %d epochs -> %s", title, verb, cfg.trainer.max_epochs, output_dir)
    with leased_devices(cfg), children_run_this_job(cfg, __file__):
        record = fit_and_report(cfg, output_dir, start)
    elapsed = time.monotonic() - began
    progress.info("%s: done, %d epochs in %.0f s: %s", title, record.extra["epochs"], elapsed, headline(record.metrics))
    return record


def fit_and_report(cfg: DictConfig, output_dir: Path, start: Start) -> RunRecord:
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    if start.checkpoint_path is None:
        model.check_start()
    run_id = run_id_for(output_dir, start.checkpoint if start.resumes else None)
    if start.changes:
        verb = "resuming" if start.resumes else "starting from"
        log.warning("%s %s with a changed config: %s", verb, start.checkpoint_path, "; ".join(start.changes))
    succeeded = False
    try:
        trainer = build_trainer(cfg, run_id, [RunMetadata(run_id, cfg)])
        weights_only = start.checkpoint_path is None or not trusted(start.checkpoint_path)
        trainer.fit(model, datamodule=datamodule, ckpt_path=start.checkpoint_path, weights_only=weights_only)
        record = RunRecord(
            reported_metrics(trainer),
            list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else [],
            str(output_dir / LAST_CHECKPOINT),
            adversarial_weight(model),
            extra={
                "epochs": trainer.current_epoch,
                "global_step": trainer.global_step,
                "best_checkpoint": trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else None,
                "wandb_run_id": run_id,
                "wandb_group": OmegaConf.select(cfg, "logger.wandb.group"),
                "seed": cfg.seed,
                "higher_is_better": higher_is_better(trainer, model),
            },
        )
        if trainer.is_global_zero:
            record.write(output_dir)
        succeeded = True
    finally:
        wandb.finish(exit_code=0 if succeeded else 1)
    log.info("run directory: %s", output_dir)
    log.info("  checkpoints: %s", output_dir / "checkpoints")
    log.info("  images:      %s", output_dir / "images")
    log.info("  metrics:     %s, %s", output_dir / "metrics.csv", output_dir / RESULTS_FILE)
    log.info("  W&B offline: %s  (upload: wandb sync %s)", output_dir / "wandb", output_dir / "wandb" / "offline-run-*")
    log.info("final validation metrics: %s", {k: v for k, v in record.metrics.items() if k.startswith("val/")})
    return record


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    """Errors are recorded in the run dir's failures.jsonl; in a sweep a failed job never stops the others."""
    run_job(train, cfg, log)


if __name__ == "__main__":
    main()
