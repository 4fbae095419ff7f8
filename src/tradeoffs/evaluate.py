"""Evaluate a checkpoint: `python -m tradeoffs.evaluate ckpt_path=RUN/checkpoints/last.ckpt [split=test]`.

Data, model and metrics are rebuilt from the training config stored in the checkpoint, with the non-null
`model.sampler.*` keys (diffusion sampler knobs) and then `overrides` applied; the checkpoint's weights are loaded,
and distortion, perception and uncertainty (+ the post-hoc critic's Ŵ1 with `posthoc_critic=true`) are written to
`results.json` in this evaluation's own output directory, the file the curve tool reads. Sampler sweeps of one
checkpoint: `python -m tradeoffs.evaluate -m ckpt_path=... sweep=sampler_eta`. An output directory that already
holds results.json is skipped, so an interrupted evaluation sweep resumes by running it again into its directory.
"""

import logging
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tradeoffs.assemble import CONFIG_DIR, build_datamodule, build_model, instantiate
from tradeoffs.callbacks.run_metadata import stored_config
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.errors import ConfigError, EstimatorInputError
from tradeoffs.loggers import ResumableCSVLogger
from tradeoffs.models.restorer import Restorer
from tradeoffs.runs import (
    RESULTS_FILE,
    finished_results,
    headline,
    load_checkpoint,
    progress,
    scalar_metrics,
    write_json,
)

log = logging.getLogger(__name__)


def evaluation_config(cfg: DictConfig, checkpoint: dict, ckpt_path: Path) -> DictConfig:
    """The checkpoint's training config + the non-null `model.sampler.*` of `cfg` + `cfg.overrides`."""
    train_cfg = stored_config(checkpoint, ckpt_path)
    sampler = {k: v for k, v in cfg.model.sampler.items() if v is not None}
    if sampler and "sampler" not in train_cfg.model:
        raise ConfigError(
            f"model.sampler.{next(iter(sampler))} applies to diffusion checkpoints; {ckpt_path} has no sampler"
        )
    sampler_cfg = OmegaConf.create({"model": {"sampler": sampler}} if sampler else {})
    train_cfg = OmegaConf.merge(train_cfg, sampler_cfg, OmegaConf.from_dotlist(list(cfg.overrides)))
    train_cfg.paths = cfg.paths
    return train_cfg


def checked_request(cfg: DictConfig) -> Path:
    """`cfg.ckpt_path` as a path, checked to exist; also checks that `cfg.split` is val or test."""
    ckpt_path = Path(cfg.ckpt_path).expanduser()
    if not ckpt_path.is_file():
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file")
    if cfg.split not in ("val", "test"):
        raise ConfigError(f"split must be 'val' or 'test', got {cfg.split!r}")
    return ckpt_path


def load_restorer(cfg: DictConfig, ckpt_path: Path) -> tuple[DictConfig, RestorationDataModule, Restorer]:
    """(evaluation config, datamodule, restorer with the checkpoint's weights), seeded by the training seed."""
    checkpoint = load_checkpoint(ckpt_path)
    train_cfg = evaluation_config(cfg, checkpoint, ckpt_path)
    pl.seed_everything(train_cfg.seed, workers=True)
    datamodule = build_datamodule(train_cfg)
    model = build_model(train_cfg, datamodule)
    model.load_state_dict(checkpoint["state_dict"])
    return train_cfg, datamodule, model


def measure(
    model: Restorer,
    datamodule: RestorationDataModule,
    train_cfg: DictConfig,
    output_dir: Path,
    cfg: DictConfig,
    posthoc_critic: bool = False,
) -> dict[str, float]:
    """One validation (or test, `cfg.split`) pass of `model` with the run's metrics callback writing into
    output_dir (tradeoff_epochs.csv, image panel); returns the logged values as floats."""
    callbacks = []
    if train_cfg.get("metrics"):
        metrics_cfg = OmegaConf.merge(train_cfg.metrics, {"output_dir": str(output_dir)})
        metrics_cfg.critic_every_n_epochs = 1 if posthoc_critic else 0
        callbacks.append(instantiate(metrics_cfg))
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
        logger=ResumableCSVLogger(str(output_dir)),
        callbacks=callbacks,
        default_root_dir=output_dir,
        enable_progress_bar=False,
    )
    run = trainer.validate if cfg.split == "val" else trainer.test
    (metrics,) = run(model, datamodule=datamodule, verbose=False)
    return scalar_metrics(metrics)


def evaluate(cfg: DictConfig) -> dict:
    ckpt_path = checked_request(cfg)
    output_dir = Path(cfg.paths.output_dir)
    if (done := finished_results(output_dir)) is not None:
        log.info("%s holds results.json already: skipped (delete it to evaluate again)", output_dir)
        return done
    train_cfg, datamodule, model = load_restorer(cfg, ckpt_path)
    metrics = measure(model, datamodule, train_cfg, output_dir, cfg, posthoc_critic=cfg.posthoc_critic)
    results = {
        "metrics": metrics,
        "overrides": list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else [],
        "adv_weight": float(train_cfg.model.get("adv_weight", 0.0)),
        "checkpoint": str(ckpt_path),
        "split": cfg.split,
        "config_overrides": list(cfg.overrides),
    }
    if "sampler" in train_cfg.model:
        results["sampler"] = OmegaConf.to_container(train_cfg.model.sampler)
    write_json(output_dir / RESULTS_FILE, results)
    log.info("evaluation of %s: %s", ckpt_path, results["metrics"])
    settings = [o for o in results["overrides"] if not o.startswith(("ckpt_path=", "sweep="))]
    progress.info("evaluated %s (%s): %s", ckpt_path, " ".join(settings) or "as trained", headline(metrics))
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    logging.captureWarnings(True)
    try:
        evaluate(cfg)
    except (ConfigError, EstimatorInputError) as error:
        log.error("%s", error)
        sys.exit(2)


if __name__ == "__main__":
    main()
