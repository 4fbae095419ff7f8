"""Feature spaces for perception (`metrics.features`): images (N, C, H, W) in [0, 1] -> features (n, d).

- `patches`: raw non-overlapping C×p×p patches, the same space as the uncertainty bound (n = N·P, d = C·p²);
- `random_conv`: a random-init conv net whose weights come from an explicit seeded generator, so it is identical
  on every run and machine (one 2·width vector per image: spatial mean and std of the last layer);
- `inception`: InceptionV3 pool features (2048-d, the FID space) from cached torch-fidelity weights.
"""

import math

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.patches import image_patches
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.weights import INCEPTION, require_weights


class PatchFeatures(nn.Module):
    def __init__(self, channels: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size, self.dim = patch_size, channels * patch_size**2

    def forward(self, images: Tensor) -> Tensor:
        return image_patches(images, self.patch_size)


class RandomConvFeatures(nn.Module):
    """Stride-2 3×3 convolutions + ReLU with He-normal weights drawn from generator_for(seed) on the CPU."""

    def __init__(self, channels: int, width: int = 64, depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        g, layers, c_in = generator_for(seed, 0xC0), [], channels
        for _ in range(depth):
            conv = nn.Conv2d(c_in, width, 3, stride=2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * math.sqrt(2 / (c_in * 9)))
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
            c_in = width
        self.net = nn.Sequential(*layers).requires_grad_(False)
        self.dim = 2 * width
        self.min_size = 2 ** (depth + 1)  # the last map must be at least 2×2 for its std

    def forward(self, images: Tensor) -> Tensor:
        h = self.net(images).flatten(2)
        return torch.cat([h.mean(-1), h.std(-1)], dim=1)


class InceptionFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        path = require_weights(INCEPTION, "metrics.features=inception")
        self.net = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
        self.dim = 2048

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        uint8 = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        return self.net(uint8).to(torch.float64)


def feature_space(name: str, channels: int, patch_size: int, seed: int = 0) -> nn.Module:
    if name == "patches":
        return PatchFeatures(channels, patch_size)
    if name == "random_conv":
        return RandomConvFeatures(channels, seed=seed)
    if name == "inception":
        return InceptionFeatures()
    raise ConfigError(f"metrics.features must be patches, random_conv or inception, got {name!r}")
