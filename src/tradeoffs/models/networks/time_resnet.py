"""A conditional denoiser f(x_t, t, lift(y)) for tiny images (the 8×8 digits): residual convolutions at full
resolution, each block modulated by an embedding of t (FiLM: h·(1 + γ(t)) + β(t)), where a UNet would have nothing
to downsample. The sinusoidal embedding and its MLP are diffusers' (`Timesteps`, `TimestepEmbedding`)."""

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError


class FiLMBlock(nn.Module):
    """x + conv(SiLU(GN(FiLM(conv(SiLU(GN(x))), emb)))): a pre-activation residual block modulated by emb."""

    def __init__(self, width: int, embedding: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, width), nn.GroupNorm(groups, width)
        self.conv1, self.conv2 = nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(embedding, 2 * width)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return x + self.conv2(self.act(h))


class TimeResNet(nn.Module):
    """`blocks` FiLM residual blocks of `width` channels on [x_t, lift(y)]; output: `channels` (ε, x0 or v)."""

    def __init__(
        self, channels: int, condition_channels: int, width: int = 48, blocks: int = 4, norm_num_groups: int = 8
    ) -> None:
        super().__init__()
        if width % norm_num_groups:
            raise ConfigError(
                f"model.denoiser.width={width} must be a multiple of model.denoiser.norm_num_groups={norm_num_groups}"
            )
        embedding = 4 * width
        self.time = Timesteps(width, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.embed = TimestepEmbedding(width, embedding)
        self.head = nn.Conv2d(channels + condition_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(FiLMBlock(width, embedding, norm_num_groups) for _ in range(blocks))
        self.tail = nn.Sequential(
            nn.GroupNorm(norm_num_groups, width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1)
        )

    def forward(self, x_t: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        emb = self.embed(self.time(t.reshape(-1).expand(len(x_t))).to(x_t.dtype))
        h = self.head(torch.cat([x_t, condition.to(x_t.dtype)], dim=1))
        for block in self.blocks:
            h = block(h, emb)
        return self.tail(h)
