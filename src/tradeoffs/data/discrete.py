"""Synthetic images with independent pixels from a discrete prior: a non-Gaussian source whose posterior under
Gaussian noise is still exact (a softmax over the values), so MMSE, MAP and posterior sampling are known.

The default is MATH.md's oracle O6 mapped into [0, 1]: X = 0.5 + 0.25·X' with X' ∈ {−1, 0, 1}, p = (0.4, 0.2, 0.4);
with noise σ = 0.25 every per-pixel risk is O6's times 0.25² (MMSE 0.4241869 → 0.0265117).
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.sources import ImageSource


class DiscreteImages(ImageSource):
    def __init__(
        self,
        values: Sequence[float] = (0.25, 0.5, 0.75),
        probs: Sequence[float] = (0.4, 0.2, 0.4),
        crop_size: int = 8,
        channels: int = 1,
        num_val: int = 512,
        seed: int = 0,
    ) -> None:
        if len(values) != len(probs) or len(values) < 2:
            raise ConfigError(f"data.source.values {list(values)} and probs {list(probs)} need the same length >= 2")
        if min(probs) <= 0 or abs(sum(probs) - 1) > 1e-6:
            raise ConfigError(f"data.source.probs must be positive and sum to 1, got {list(probs)}")
        self.values = torch.tensor(values, dtype=torch.float64)
        self.probs = torch.tensor(probs, dtype=torch.float64)
        self.channels, self.size, self.num_val, self.seed = channels, crop_size, num_val, seed

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        index = torch.multinomial(self.probs, n * self.channels * self.size**2, replacement=True, generator=generator)
        return self.values[index].float().view(n, self.channels, self.size, self.size)

    def sample(self, generator: torch.Generator) -> Tensor:
        return self._draw(1, generator)[0]

    def validation_images(self) -> Tensor:
        return self._draw(self.num_val, generator_for(self.seed, 0xA3))
