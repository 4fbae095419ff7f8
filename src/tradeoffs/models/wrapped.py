"""A network trained elsewhere (a SwinIR or ESRGAN generator, a torchvision model, any `nn.Module`) as a frozen
restorer: called through `networks.adapter.NetworkAdapter` (its input, value range and noise, as the GAN restorer
calls `model/generator=external`), with its weights read from a file; it is only measured.
"""

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation
from tradeoffs.models.networks.adapter import NetworkAdapter, NetworkIO, WeightsFile, load_weights
from tradeoffs.models.restorer import Restorer


class WrappedRestorer(Restorer):
    """`network` (instantiated by Hydra from `model.network`) with the weights of `weights` (None: as constructed),
    as a frozen restorer of the measurement protocol."""

    def __init__(
        self,
        network: nn.Module,
        degradation: Degradation,
        channels: int,
        weights: str | None = None,
        weights_key: str | None = None,
        weights_prefix: str = "",
        input: str = "lifted",
        value_range: tuple[float, float] = (0.0, 1.0),
        noise_channels: int = 0,
        noise_input: str = "concat",
        seed: int = 0,
    ) -> None:
        super().__init__(degradation, channels, seed)
        io = NetworkIO(input, tuple(value_range), noise_channels, noise_input)
        if not isinstance(network, nn.Module):
            raise ConfigError(f"model.network must build an nn.Module, got {type(network).__name__}")
        self.network, self.adapter = network, NetworkAdapter(degradation, channels, io)
        if weights is not None:
            load_weights(network, WeightsFile(weights, weights_key, weights_prefix))
        self.network.eval().requires_grad_(False)

    @property
    def stochastic(self) -> bool:
        return self.adapter.stochastic

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.adapter.restore(self.network, y, num_samples, generator)

    def configure_optimizers(self) -> None:
        raise ConfigError(
            "model=wrapped is measured, not trained: use tradeoffs.wrap, evaluate or traverse; to fine-tune the "
            "network with λ, train model/generator=external"
        )
