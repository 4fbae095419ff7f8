"""Pretrained weights are never downloaded at run time: they are read from the torch hub cache
($TORCH_HOME/hub/checkpoints), and a missing file is reported by name with the address to fetch it from."""

from pathlib import Path

import torch

from tradeoffs.core.errors import ConfigError

ALEXNET = ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
INCEPTION = (
    "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)


def cached_weights(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def require_weights(weights: tuple[str, str], key: str) -> Path:
    """The cached file of `weights`, or ConfigError naming it, the config key that asked for it and its URL."""
    path = cached_weights(weights[0])
    if not path.is_file():
        raise ConfigError(f"{key}: pretrained weights {path} are missing (no download at run time); fetch {weights[1]}")
    return path
