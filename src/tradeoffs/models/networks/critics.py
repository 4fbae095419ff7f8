"""Critics (discriminators) without normalisation layers, so WGAN-GP's per-sample gradient penalty is valid."""

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm


def _conv_stack(in_channels: int, width: int, layers: int, spectral_norm: bool) -> tuple[nn.Sequential, int]:
    """`layers` stride-2 4×4 convolutions with LeakyReLU, doubling the width up to 8×."""
    wrap = apply_spectral_norm if spectral_norm else (lambda m: m)
    modules, channels = [], in_channels
    for i in range(layers):
        out = width * min(2**i, 8)
        modules += [wrap(nn.Conv2d(channels, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        channels = out
    return nn.Sequential(*modules), channels


class PatchCritic(nn.Module):
    """PatchGAN critic: one score per receptive field, output (B, 1, H/2^layers, W/2^layers)."""

    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, spectral_norm: bool = False) -> None:
        super().__init__()
        self.features, channels = _conv_stack(in_channels, width, layers, spectral_norm)
        self.score = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))


class GlobalCritic(nn.Module):
    """One score per image: convolutions, global average pooling, linear. Output (B, 1)."""

    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, spectral_norm: bool = False) -> None:
        super().__init__()
        self.features, channels = _conv_stack(in_channels, width, layers, spectral_norm)
        self.score = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x).mean(dim=(2, 3)))


class MLPCritic(nn.Module):
    """One score per image from the flattened image (tiny images, e.g. the Gaussian oracle). Output (B, 1).

    It scores (x − input_mean) / input_std: data of small spread (the oracle's σ = 0.1) reaches the first layer at unit
    scale. The shift and scale are fixed, so the gradient penalty still bounds the slope in image units."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        hidden: int = 256,
        layers: int = 3,
        input_mean: float = 0.0,
        input_std: float = 1.0,
    ) -> None:
        super().__init__()
        if input_std <= 0:
            raise ValueError(f"input_std must be > 0, got {input_std}")
        self.input_mean, self.input_std = input_mean, input_std
        blocks, width = [], in_channels * image_size**2
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(nn.Flatten(), *blocks, nn.Linear(width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.input_mean) / self.input_std)
