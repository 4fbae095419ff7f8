"""Random crops of the real photographs bundled with scikit-image and scikit-learn (no download needed).

Train and validation crops come from disjoint photographs, so no validation crop shares a photo with training.
"""

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import skimage.data
import sklearn.datasets
import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.images import random_crop, random_dihedral, to_channels, to_tensor
from tradeoffs.data.sources import ImageSource

# Natural photographs only (no synthetic test patterns, text pages or duplicates such as skimage's `cat`).
COLOR_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": skimage.data.astronaut,
    "chelsea": skimage.data.chelsea,
    "coffee": skimage.data.coffee,
    "rocket": skimage.data.rocket,
    "hubble_deep_field": skimage.data.hubble_deep_field,
    "immunohistochemistry": skimage.data.immunohistochemistry,
    "retina": skimage.data.retina,
    "china": lambda: sklearn.datasets.load_sample_image("china.jpg"),
    "flower": lambda: sklearn.datasets.load_sample_image("flower.jpg"),
}
GRAY_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "camera": skimage.data.camera,
    "moon": skimage.data.moon,
    "coins": skimage.data.coins,
    "brick": skimage.data.brick,
    "grass": skimage.data.grass,
    "gravel": skimage.data.gravel,
    "clock": skimage.data.clock,
    "cell": skimage.data.cell,
}


@cache
def load_photo(name: str) -> Tensor:
    """A bundled photograph as a (C, H, W) float tensor in [0, 1]."""
    loader = COLOR_PHOTOS.get(name) or GRAY_PHOTOS.get(name)
    if loader is None:
        known = ", ".join(sorted(COLOR_PHOTOS | GRAY_PHOTOS))
        raise ConfigError(f"unknown photo {name!r} in data.source.val_photos; known photos: {known}")
    return to_tensor(loader())


class NaturalPhotos(ImageSource):
    """Crops of bundled photographs. RGB uses the colour photos; grey also uses the grey ones (colour -> luma)."""

    def __init__(
        self,
        crop_size: int,
        channels: int = 3,
        val_photos: Sequence[str] = ("astronaut", "china"),
        num_val: int = 64,
        augment: bool = True,
        seed: int = 0,
    ) -> None:
        if channels not in (1, 3):
            raise ConfigError(f"data.source.channels must be 1 or 3, got {channels}")
        names = list(COLOR_PHOTOS) + (list(GRAY_PHOTOS) if channels == 1 else [])
        val = list(val_photos)
        unknown = [v for v in val if v not in names]
        if unknown or not val:
            raise ConfigError(
                f"data.source.val_photos={val}: must name at least one of the {channels}-channel photos {names}"
            )
        self.channels, self.crop_size, self.num_val, self.augment, self.seed = (
            channels,
            crop_size,
            num_val,
            augment,
            seed,
        )
        self.train_names = [n for n in names if n not in val]
        self.val_names = val
        self.train = [to_channels(load_photo(n), channels) for n in self.train_names]
        self.val = [to_channels(load_photo(n), channels) for n in self.val_names]
        smallest = min(min(p.shape[1:]) for p in self.train + self.val)
        if crop_size > smallest:
            raise ConfigError(
                f"data.source.crop_size={crop_size} is larger than the smallest photo side ({smallest} px)"
            )
        areas = torch.tensor([float(p.shape[1] * p.shape[2]) for p in self.train])
        self.weights = areas / areas.sum()  # every training pixel is equally likely to be in a crop

    def sample(self, generator: torch.Generator) -> Tensor:
        photo = self.train[int(torch.multinomial(self.weights, 1, generator=generator))]
        crop = random_crop(photo, self.crop_size, generator)
        return random_dihedral(crop, generator) if self.augment else crop

    def validation_images(self) -> Tensor:
        crops = []
        for i in range(self.num_val):
            generator = generator_for(self.seed, 0xA1, i)
            crops.append(random_crop(self.val[i % len(self.val)], self.crop_size, generator))
        return torch.stack(crops)
