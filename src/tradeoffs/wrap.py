"""Wrap a network trained elsewhere: `python -m tradeoffs.wrap experiment=NAME name=METHOD wrapped.network._target_=...
wrapped.weights=PATH [hydra.run.dir=OUT]`.

The experiment's data, degradation and metrics are composed as for training; `wrapped` (conf/model/wrapped.yaml)
becomes the run's model. The network is checked on one observation, saved with that config as
`OUT/METHOD/checkpoints/last.ckpt` (the weights inside, so the original file is no longer needed) and measured like
`evaluate` measures a checkpoint into the job directory `OUT/METHOD`, labelled METHOD on the planes. Every tool that
takes a `ckpt_path` (evaluate, export_samples, traverse, an interpolation partner) then works on it.
"""

import logging
import re
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from tradeoffs.assemble import CONFIG_DIR, build_datamodule, build_model, measure_restorer
from tradeoffs.cli import run_job
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import (
    CONFIG_KEY,
    LAST_CHECKPOINT,
    RunRecord,
    config_changes,
    config_to_store,
    headline,
    load_checkpoint,
    progress,
    save_checkpoint,
)
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def run_config(cfg: DictConfig) -> DictConfig:
    """The training config the checkpoint carries: the composed one with `wrapped` as its model and without the
    weights file (its tensors are in the checkpoint) or the wrap entry's own keys."""
    run = OmegaConf.create(config_to_store(cfg))
    with open_dict(run):
        run.model = run.pop("wrapped")
        run.model.weights = None
        for key in ("name", "split", "accelerator"):
            run.pop(key)
    return run


def weights_source(weights: str | None) -> str | None:
    return None if weights is None else str(Path(weights).expanduser().resolve())


def check_same_wrap(checkpoint: dict, stored: DictConfig, model: nn.Module, path: Path) -> None:
    """ConfigError unless the checkpoint already in the job directory holds this config and these weights: a
    name is never silently reused for another network."""
    changes = config_changes(checkpoint[CONFIG_KEY], OmegaConf.to_container(stored))
    theirs, ours = checkpoint["state_dict"], model.state_dict()
    if theirs.keys() != ours.keys() or any(not torch.equal(theirs[k], ours[k]) for k in ours):
        changes.append("the weights differ")
    if changes:
        raise ConfigError(f"{path} wraps another network ({'; '.join(changes)}): choose another name=")


def wrap(cfg: DictConfig) -> RunRecord:
    if cfg.split not in ("val", "test"):
        raise ConfigError(f"split must be 'val' or 'test', got {cfg.split!r}")
    if not re.fullmatch(r"[\w.=+\-]+", str(cfg.name)):
        raise ConfigError(f"name={cfg.name!r}: use letters, digits and . _ - = + (it names a directory)")
    job_dir = Path(cfg.paths.output_dir) / str(cfg.name)
    stored, checkpoint_path = run_config(cfg), job_dir / LAST_CHECKPOINT
    run = OmegaConf.merge(stored, {"paths": cfg.paths})
    pl.seed_everything(run.seed, workers=True)
    datamodule = build_datamodule(run, stage=cfg.split)
    with open_dict(run):
        run.model.weights = cfg.wrapped.weights
    model = build_model(run, datamodule)
    model.restore(datamodule.pairs(cfg.split).y[:1])  # a network that does not fit the data fails here, in one line
    if checkpoint_path.is_file():
        check_same_wrap(load_checkpoint(checkpoint_path), stored, model, checkpoint_path)
        if (done := RunRecord.read(job_dir)) is not None:
            progress.info("%s: finished already, skipped (%s)", cfg.name, headline(done.metrics))
            return done
    else:
        save_checkpoint(checkpoint_path, model.state_dict(), OmegaConf.to_container(stored))
    metrics, maximized = measure_restorer(model, datamodule, run, job_dir, cfg.split, cfg.accelerator)
    extra = {
        "method": str(cfg.name),
        "network": cfg.wrapped.network._target_,
        "weights": weights_source(cfg.wrapped.weights),
    }
    record = RunRecord(
        metrics, [f"method={cfg.name}"], str(checkpoint_path), None, cfg.split, extra | {"higher_is_better": maximized}
    )
    record.write_job(job_dir, stored)
    progress.info("wrapped %s (%s): %s", cfg.name, cfg.wrapped.network._target_, headline(metrics))
    return record


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="wrap")
def main(cfg: DictConfig) -> None:
    run_job(wrap, cfg, log)


if __name__ == "__main__":
    main()
