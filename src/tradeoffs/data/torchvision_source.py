"""MNIST, FashionMNIST and CIFAR10 read from a local root with torchvision (download only if the user asks)."""

import numpy as np
import torch
import torchvision.datasets
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.images import random_crop, to_channels
from tradeoffs.data.sources import ImageSource

DATASETS = ("MNIST", "FashionMNIST", "CIFAR10")


def load_split(name: str, root: str, train: bool, download: bool) -> Tensor:
    """All images of one split as uint8 (N, C, H, W)."""
    if name not in DATASETS:
        raise ConfigError(f"data.source.name must be one of {DATASETS}, got {name!r}")
    try:
        dataset = getattr(torchvision.datasets, name)(root=root, train=train, download=download)
    except RuntimeError as error:
        raise ConfigError(
            f"data.source.root={root}: {name} not found there ({error}); set data.source.download=true to fetch it"
        ) from None
    data = torch.as_tensor(np.asarray(dataset.data))
    return data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2).contiguous()


class TorchvisionImages(ImageSource):
    """Training draws from the train split (random crops if crop_size is smaller); validation = first test images."""

    def __init__(
        self,
        name: str,
        root: str,
        channels: int = 1,
        crop_size: int | None = None,
        num_val: int = 256,
        download: bool = False,
    ) -> None:
        self.train = load_split(name, root, train=True, download=download)
        self.test = load_split(name, root, train=False, download=download)[:num_val]
        if channels not in (1, 3):
            raise ConfigError(f"data.source.channels must be 1 or 3, got {channels}")
        self.channels = channels
        size = self.train.shape[-1]
        if crop_size is not None and crop_size > size:
            raise ConfigError(f"data.source.crop_size={crop_size} is larger than the {name} images ({size}x{size})")
        self.crop_size = crop_size or size

    def _convert(self, image: Tensor) -> Tensor:
        return to_channels(image.float() / 255.0, self.channels)

    def sample(self, generator: torch.Generator) -> Tensor:
        image = self._convert(self.train[int(torch.randint(0, len(self.train), (1,), generator=generator))])
        return random_crop(image, self.crop_size, generator)

    def validation_images(self) -> Tensor:
        return torch.stack([self._convert(im)[:, : self.crop_size, : self.crop_size] for im in self.test])
