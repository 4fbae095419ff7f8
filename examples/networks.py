"""A network as a researcher brings it: written for their own paper, knowing nothing of `tradeoffs`.

The README fine-tunes it with λ on the demo (`model/generator=external
model.generator.network._target_=examples.networks.NoisyDnCNN`); any importable `nn.Module` works the same way.
"""

from torch import Tensor, nn


class NoisyDnCNN(nn.Module):
    """DnCNN (Zhang et al., 2017) with a noise input: x̂ = y + f([y, z]) for an image y of `channels` channels
    followed by `noise_channels` channels of z; f is `depth` 3×3 convolutions of `width` features with ReLUs."""

    def __init__(self, channels: int = 1, noise_channels: int = 0, width: int = 32, depth: int = 5) -> None:
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels + noise_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers, nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs[:, : self.channels] + self.body(inputs)
