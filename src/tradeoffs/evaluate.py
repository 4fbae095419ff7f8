"""Evaluate a checkpoint: `python -m tradeoffs.evaluate ckpt_path=RUN/checkpoints/last.ckpt [split=test]`.

Data, model and metrics are rebuilt from the training config stored in the checkpoint (plus `overrides`), the
checkpoint's weights are loaded, and distortion, perception and uncertainty (+ the post-hoc critic's Ŵ1 with
`posthoc_critic=true`) are written to `evaluation.json` in this evaluation's own output directory.
"""

import logging
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf, open_dict

from tradeoffs.assemble import CONFIG_DIR, build_datamodule, build_model, instantiate
from tradeoffs.callbacks.run_metadata import stored_config
from tradeoffs.errors import ConfigError, EstimatorInputError
from tradeoffs.loggers import ResumableCSVLogger
from tradeoffs.runs import load_checkpoint, scalar_metrics, write_json

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    ckpt_path = Path(cfg.ckpt_path).expanduser()
    if not ckpt_path.is_file():
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file")
    if cfg.split not in ("val", "test"):
        raise ConfigError(f"split must be 'val' or 'test', got {cfg.split!r}")
    checkpoint = load_checkpoint(ckpt_path)
    train_cfg = OmegaConf.merge(stored_config(checkpoint, ckpt_path), OmegaConf.from_dotlist(list(cfg.overrides)))
    train_cfg.paths = cfg.paths
    pl.seed_everything(train_cfg.seed, workers=True)
    datamodule = build_datamodule(train_cfg)
    model = build_model(train_cfg, datamodule)
    model.load_state_dict(checkpoint["state_dict"])

    output_dir = Path(cfg.paths.output_dir)
    callbacks = []
    if train_cfg.get("metrics"):
        with open_dict(train_cfg):
            train_cfg.metrics.critic_every_n_epochs = 1 if cfg.posthoc_critic else 0
        callbacks.append(instantiate(train_cfg.metrics))
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
    results = {"checkpoint": str(ckpt_path), "split": cfg.split, "overrides": list(cfg.overrides)}
    results["metrics"] = scalar_metrics(metrics)
    write_json(output_dir / "evaluation.json", results)
    log.info("evaluation of %s: %s", ckpt_path, results["metrics"])
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except (ConfigError, EstimatorInputError) as error:
        log.error("%s", error)
        sys.exit(2)


if __name__ == "__main__":
    main()
