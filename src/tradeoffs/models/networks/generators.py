"""Residual convolutional generator x̂ = base(y) + f(lift(y), z), optionally stochastic through a noise input z."""

import torch
from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """x + s·conv(relu(conv(x))), with residual scaling s (EDSR)."""

    def __init__(self, width: int, scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1)
        )
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.scale * self.body(x)


class ResidualGenerator(nn.Module):
    """Predicts the residual from the lifted observation's first `out_channels` channels (its image part).

    in_channels: channels of lift(y) (out_channels, +1 for an inpainting mask); noise_channels > 0 makes the
    generator stochastic: z ~ N(0, I) of shape (B, noise_channels, H, W) is concatenated to its input.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        blocks: int = 8,
        noise_channels: int = 0,
        residual_scale: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.noise_channels = in_channels, out_channels, noise_channels
        self.head = nn.Conv2d(in_channels + noise_channels, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width, residual_scale) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, out_channels, 3, padding=1)

    @property
    def stochastic(self) -> bool:
        return self.noise_channels > 0

    def forward(self, lifted: Tensor, z: Tensor | None = None) -> Tensor:
        if lifted.shape[1] != self.in_channels:
            raise ValueError(f"generator expects {self.in_channels} input channels, got {lifted.shape[1]}")
        inputs = lifted
        if self.stochastic:
            if z is None:
                raise ValueError("a stochastic generator (noise_channels > 0) needs its noise input z")
            inputs = torch.cat([lifted, z], dim=1)
        features = self.head(inputs)
        return lifted[:, : self.out_channels] + self.tail(features + self.body(features))


class MLPGenerator(nn.Module):
    """For tiny images (e.g. the Gaussian oracle): x̂ = A·lift(y) + b + MLP(lift(y), z) on flattened images.

    The linear path represents any affine estimator exactly (the Wiener filter is one), so λ = 0 can reach the MMSE.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        hidden: int = 256,
        layers: int = 2,
        noise_channels: int = 0,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.noise_channels = in_channels, out_channels, noise_channels
        self.shape = (out_channels, image_size, image_size)
        d_in, d_out = (in_channels + noise_channels) * image_size**2, out_channels * image_size**2
        self.linear = nn.Linear(d_in, d_out)
        blocks, width = [], d_in
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.mlp = nn.Sequential(*blocks, nn.Linear(width, d_out))

    @property
    def stochastic(self) -> bool:
        return self.noise_channels > 0

    def forward(self, lifted: Tensor, z: Tensor | None = None) -> Tensor:
        inputs = lifted if not self.stochastic else torch.cat([lifted, z], dim=1)
        flat = inputs.flatten(1)
        return (self.linear(flat) + self.mlp(flat)).view(-1, *self.shape)
