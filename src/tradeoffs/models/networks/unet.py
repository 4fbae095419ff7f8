"""The conditional denoiser f(x_t, t, lift(y)) of SR3/Palette: diffusers' UNet2DModel on [x_t, lift(y)]."""

from collections.abc import Sequence

import torch
from diffusers import UNet2DModel
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError


class ConditionalUNet(nn.Module):
    """UNet with len(`block_out_channels`) resolution levels (self-attention at the levels listed in
    `attention_levels`, 0 = full resolution), `layers_per_block` residual blocks per level, a mid block with
    attention when `mid_attention`; input channels = image `channels` + `condition_channels`."""

    def __init__(
        self,
        channels: int,
        condition_channels: int,
        block_out_channels: Sequence[int] = (64, 128, 128),
        layers_per_block: int = 2,
        attention_levels: Sequence[int] = (),
        mid_attention: bool = True,
        norm_num_groups: int = 32,
        attention_head_dim: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        levels = len(block_out_channels)
        if any(c % norm_num_groups for c in block_out_channels):
            raise ConfigError(
                f"model.denoiser.block_out_channels={list(block_out_channels)} must be multiples of "
                f"model.denoiser.norm_num_groups={norm_num_groups}"
            )
        if any(not 0 <= i < levels for i in attention_levels):
            raise ConfigError(f"model.denoiser.attention_levels={list(attention_levels)} must lie in [0, {levels})")
        down = ["AttnDownBlock2D" if i in attention_levels else "DownBlock2D" for i in range(levels)]
        up = ["AttnUpBlock2D" if i in attention_levels else "UpBlock2D" for i in reversed(range(levels))]
        self.levels = levels
        self.unet = UNet2DModel(
            in_channels=channels + condition_channels,
            out_channels=channels,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            add_attention=mid_attention,
            norm_num_groups=norm_num_groups,
            attention_head_dim=attention_head_dim,
            dropout=dropout,
        )

    def check_image_size(self, height: int, width: int, key: str = "data.source.crop_size") -> None:
        """Raise ConfigError naming `key` unless both sides divide by the UNet's downsampling 2^(levels − 1)."""
        factor = 2 ** (self.levels - 1)
        if height % factor or width % factor:
            raise ConfigError(
                f"{key}={height}x{width} must be divisible by {factor}, the downsampling of a UNet "
                f"with {self.levels} levels (model.denoiser.block_out_channels)"
            )

    def forward(self, x_t: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        return self.unet(torch.cat([x_t, condition.to(x_t.dtype)], dim=1), t).sample
