"""A network trained elsewhere (a SwinIR or ESRGAN generator, a torchvision model, any `nn.Module`) as a frozen
restorer: called through `networks.adapter.NetworkAdapter` (its input, value range and noise, as the GAN restorer
calls `model/generator=external`), with its weights read from a file; it is only measured.
"""

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation
from tradeoffs.models.networks.adapter import NetworkAdapter, external_network, load_weights
from tradeoffs.models.restorer import Restorer


class WrappedRestorer(Restorer):
    """`network` (instantiated by Hydra from `model.network`) with the weights of `weights` (None: as constructed),
    as a frozen restorer of the measurement protocol; `settings` are `networks.adapter.external_network`'s (the
    weights file and how the network is called)."""

    def __init__(self, network: nn.Module, degradation: Degradation, channels: int, seed: int = 0, **settings) -> None:
        super().__init__(degradation, channels, seed)
        network, io, weights = external_network(network, node="model", **settings)
        self.network, self.adapter = network, NetworkAdapter(degradation, channels, io)
        if weights is not None:
            load_weights(network, weights)
        self.network.eval().requires_grad_(False)

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.adapter.restore(self.network, y, num_samples, generator)

    def configure_optimizers(self) -> None:
        raise ConfigError(
            "model=wrapped is measured, not trained: use tradeoffs.wrap, evaluate or traverse; to fine-tune the "
            "network with λ, train model/external=network"
        )
