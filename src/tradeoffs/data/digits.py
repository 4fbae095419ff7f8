"""scikit-learn's bundled handwritten digits (1,797 grey 8×8 images, UCI optdigits): the offline stand-in for the
MNIST of Blau & Michaeli's experiments (their Figs. 4 and 6).

Pixels are the dataset's 17 grey levels 0…16 mapped to [0, 1]. Train and validation are a fixed split, the same for
every `seed` and machine (the source takes none), so sweeps over seeds vary the training only: the last `num_val`
digits of a fixed permutation are validation, the rest training. `upscale` > 1 enlarges the digits by bilinear
interpolation (16×16 with 2), for networks that want more pixels; training draws are the training digits in random
order.
"""

from functools import cache

import sklearn.datasets
import torch
import torch.nn.functional as F
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.sources import ImageSource

_SPLIT_STREAM = 0xD161


@cache
def load_digits() -> Tensor:
    """All 1,797 digits as (N, 1, 8, 8) float32 in [0, 1], in the dataset's order."""
    images = sklearn.datasets.load_digits().images
    return torch.from_numpy(images).float().div(16.0).unsqueeze(1)


class Digits(ImageSource):
    def __init__(self, num_val: int = 600, upscale: int = 1, channels: int = 1) -> None:
        total = len(load_digits())
        if channels != 1:
            raise ConfigError(f"data.source.channels={channels}: the digits are grey (channels: 1)")
        if not 0 < num_val < total:
            raise ConfigError(f"data.source.num_val={num_val} must be in [1, {total - 1}] (there are {total} digits)")
        if upscale < 1:
            raise ConfigError(f"data.source.upscale={upscale} must be >= 1")
        order = torch.randperm(total, generator=generator_for(_SPLIT_STREAM))
        images = load_digits()
        if upscale > 1:
            images = F.interpolate(images, scale_factor=upscale, mode="bilinear", align_corners=False).clamp(0, 1)
        self.train, self.val = images[order[:-num_val]], images[order[-num_val:]]
        self.channels = channels

    def sample(self, generator: torch.Generator) -> Tensor:
        return self.train[int(torch.randint(len(self.train), (1,), generator=generator))]

    def validation_images(self) -> Tensor:
        return self.val.clone()
