"""Building the datamodule and the restorer from a composed config, with the checks that need both.

Constructors raise ConfigError naming the offending key; Hydra wraps those in InstantiationException, which
`instantiate` unwraps so the user sees one line.
"""

from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ModelSummary
from pytorch_lightning.loggers import WandbLogger

from tradeoffs.callbacks.run_metadata import stored_config
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import Degradation
from tradeoffs.errors import ConfigError
from tradeoffs.models.restorer import Restorer
from tradeoffs.runs import load_checkpoint
from tradeoffs.sweeps import lease  # noqa: F401  (registers the config resolvers)

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose a config as the CLI would, outside a Hydra app (tests, benchmarks), with its run dir at output_dir."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(output_dir.parent)
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    return cfg


def instantiate(node: DictConfig, **kwargs: Any) -> Any:
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise


def build_datamodule(cfg: DictConfig) -> RestorationDataModule:
    """Instantiate `cfg.data` and build its validation pairs now, so bad data fails before training."""
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return datamodule


def build_model(cfg: DictConfig, datamodule: RestorationDataModule) -> Restorer:
    model = instantiate(cfg.model)
    if model.channels != datamodule.source.channels:
        raise ConfigError(f"model.channels={model.channels} but data.source.channels={datamodule.source.channels}")
    return model


def restorer_from_checkpoint(
    ckpt_path: str | Path, degradation: Degradation | None = None, key: str = "model.prior.ckpt_path"
) -> Restorer:
    """The restorer a checkpoint holds, rebuilt from the training config it carries, with its weights, frozen and
    in eval mode (a fusion prior, an interpolation partner); ConfigError naming `key` if the file is missing or the
    restorer was trained on another `degradation`."""
    path = Path(str(ckpt_path)).expanduser()
    if ckpt_path is None or not path.is_file():
        raise ConfigError(f"{key}={ckpt_path}: no such checkpoint file")
    checkpoint = load_checkpoint(path)
    model = instantiate(stored_config(checkpoint, path).model)
    if degradation is not None and repr(model.degradation) != repr(degradation):
        raise ConfigError(
            f"{key}={ckpt_path} restores {model.degradation!r}, this run's degradation is {degradation!r}"
        )
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval().requires_grad_(False)


def build_trainer(cfg: DictConfig, wandb_run_id: str, extra_callbacks: list[pl.Callback]) -> pl.Trainer:
    """Trainer with the configured callbacks and loggers; the W&B logger gets the run's persistent id and config."""
    loggers = []
    for name, logger_cfg in (cfg.get("logger") or {}).items():
        if name == "wandb":
            with open_dict(logger_cfg):
                logger_cfg.id = wandb_run_id
        loggers.append(instantiate(logger_cfg))
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if cfg.trainer.get("enable_model_summary") is False:  # the switch wins over callbacks.model_summary
        callbacks = [c for c in callbacks if not isinstance(c, ModelSummary)]
    if cfg.get("metrics"):
        callbacks.append(instantiate(cfg.metrics))
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers)
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            resolved = OmegaConf.to_container(cfg, resolve=True)
            resolved.pop("hydra", None)
            logger.experiment.config.update(resolved, allow_val_change=True)  # W&B filters on model.adv_weight, ...
    return trainer
