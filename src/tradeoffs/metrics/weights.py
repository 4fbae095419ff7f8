"""Pretrained weights are never downloaded at run time unless the user asks: they are read from the torch hub cache
($TORCH_HOME/hub/checkpoints), the Hugging Face cache (timm's backbones) or a file the user names, and a missing
file is reported by name with the address to fetch it from."""

from pathlib import Path

import torch

from tradeoffs.core.errors import ConfigError

ALEXNET = ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
VGG16 = ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth")
VGG19 = ("vgg19-dcbb9e9d.pth", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth")
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


def torchvision_weights(weights: tuple[str, str], path: str | None, key: str) -> dict:
    """The state dict of a torchvision backbone: from `path` if given (ConfigError naming `key` if it is missing),
    else from the torch hub cache (ConfigError naming the file and its URL if it is not there)."""
    file = Path(path).expanduser() if path is not None else require_weights(weights, key)
    if not file.is_file():
        raise ConfigError(f"{key}={file}: no such file (the {weights[0]} weights)")
    return torch.load(file, map_location="cpu", weights_only=True)


def hub_weights(model: str, weights: str | None, download: bool, key: str) -> str | None:
    """The weights file of timm model `model`: `weights` if given, else its file in the Hugging Face cache; None
    when it may be downloaded (download=true); ConfigError naming the file and how to get it otherwise."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(f"metrics.feature_weights={path}: no such file (the weights of {model})")
        return str(path)
    from huggingface_hub import try_to_load_from_cache

    repo = f"timm/{model}"
    for filename in ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(repo, filename)
        if isinstance(cached, str):
            return cached
    if download:
        return None
    raise ConfigError(
        f"{key}: the weights of {model} are not in the Hugging Face cache (no download at run time): fetch them "
        f"with `huggingface-cli download {repo} model.safetensors`, pass metrics.feature_weights=FILE, or allow "
        "metrics.feature_download=true"
    )
