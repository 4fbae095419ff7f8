"""Building the datamodule and the restorer from a composed config, with the checks that need both.

Constructors raise ConfigError naming the offending key; Hydra wraps those in InstantiationException, which
`instantiate` unwraps so the user sees one line.
"""

from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.errors import ConfigError
from tradeoffs.models.restorer import Restorer


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
