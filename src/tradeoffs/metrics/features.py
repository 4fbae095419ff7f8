"""Feature spaces for perception (`metrics.features`): images (N, C, H, W) in [0, 1] -> features (n, d).

- `patches`: raw non-overlapping C×p×p patches, the same space as the uncertainty bound (n = N·P, d = C·p²);
- `random_conv`: a random-init conv net whose weights come from an explicit seeded generator, so it is identical
  on every run and machine (one 2·width vector per image: spatial mean and std of the last layer);
- `inception`: InceptionV3 pool features (2048-d, the FID space) from cached torch-fidelity weights;
- `dinov2`, `clip`: the class token of a DINOv2 ViT (1024-d for ViT-L/14) or the image embedding of a CLIP ViT
  (768-d for ViT-L/14), both through timm, the spaces dgm-eval (Stein et al. 2023) recommends over Inception; images
  are quantised to 8 bits, resized to 224 px (bicubic, antialiased), normalised with the model's mean and std.
  Weights come from `metrics.feature_weights` (a file) or the Hugging Face cache, and are downloaded only with
  `metrics.feature_download=true`.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.images import as_rgb
from tradeoffs.core.patches import image_patches
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.weights import INCEPTION, hub_weights, require_weights

BACKBONES = {"dinov2": "vit_large_patch14_dinov2.lvd142m", "clip": "vit_large_patch14_clip_224.openai"}


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
        uint8 = (as_rgb(images).clamp(0, 1) * 255).round().to(torch.uint8)
        return self.net(uint8).to(torch.float64)


class ViTFeatures(nn.Module):
    """A timm ViT of the `dinov2` or `clip` space (`model`: a timm name, default BACKBONES[space]); `pretrained`
    false builds the same architecture with random weights (the plumbing tests)."""

    def __init__(
        self,
        space: str,
        model: str | None = None,
        weights: str | None = None,
        download: bool = False,
        pretrained: bool = True,
        size: int = 224,
    ) -> None:
        super().__init__()
        import timm

        name, self.size = model or BACKBONES[space], size
        options = {"num_classes": 0, "img_size": size} if space == "dinov2" else {}
        if pretrained:
            file = hub_weights(name, weights, download, f"metrics.features={space}")
            options |= {"pretrained_cfg_overlay": {"file": file}} if file is not None else {}
        try:
            self.net = timm.create_model(name, pretrained=pretrained, **options).eval().requires_grad_(False)
        except RuntimeError as error:  # e.g. timm's "Unknown model"
            raise ConfigError(f"metrics.feature_model={name}: {error}") from None
        config = self.net.pretrained_cfg
        self.register_buffer("mean", torch.tensor(config["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config["std"]).view(1, 3, 1, 1), persistent=False)
        self.dim = self.net.num_classes or self.net.num_features

    def preprocess(self, images: Tensor) -> Tensor:
        """[0, 1] images -> the network's input: 8-bit levels, RGB, size×size (bicubic, antialiased), normalised."""
        images = as_rgb((images.float().clamp(0, 1) * 255).round() / 255)
        images = F.interpolate(images, size=(self.size, self.size), mode="bicubic", antialias=True).clamp(0, 1)
        return (images - self.mean) / self.std

    def forward(self, images: Tensor) -> Tensor:
        return self.net(self.preprocess(images)).to(torch.float64)


SPACES = ("patches", "random_conv", "inception", "dinov2", "clip")


def feature_space(
    name: str,
    channels: int,
    patch_size: int,
    seed: int = 0,
    model: str | None = None,
    weights: str | None = None,
    download: bool = False,
) -> nn.Module:
    if name == "patches":
        return PatchFeatures(channels, patch_size)
    if name == "random_conv":
        return RandomConvFeatures(channels, seed=seed)
    if name == "inception":
        return InceptionFeatures()
    if name in BACKBONES:
        return ViTFeatures(name, model, weights, download)
    raise ConfigError(f"metrics.features must be one of {', '.join(SPACES)}, got {name!r}")
