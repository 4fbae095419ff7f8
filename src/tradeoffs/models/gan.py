"""GAN restorer: generator loss = distortion + λ·adversarial (λ = `adv_weight`); the loop is `AdversarialRestorer`'s."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from tradeoffs.data.degradations import Degradation
from tradeoffs.models.adversarial_restorer import AdversarialRestorer
from tradeoffs.models.networks.generators import ResidualGenerator


class GANRestorer(AdversarialRestorer):
    """`generator` is a factory (Hydra `_partial_`) completed with in = channels of lift(y), out = data channels;
    the other arguments are `AdversarialRestorer`'s."""

    task_loss_name = "distortion"

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        generator: Callable[..., ResidualGenerator],
        distortion_loss: nn.Module | None = None,
        **adversarial_training,
    ) -> None:
        network = generator(in_channels=degradation.lifted_channels(channels), out_channels=channels)
        super().__init__(degradation, channels, network, **adversarial_training)
        self.distortion_loss = distortion_loss or nn.MSELoss()

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        net, lifted = self.inference_generator, self.degradation.lift(y)
        if not net.stochastic:
            out = net(lifted)
            return out.unsqueeze(1).expand(-1, num_samples, *out.shape[1:])
        lifted = lifted.repeat_interleave(num_samples, dim=0)
        out = net(lifted, self.noise(lifted, generator))
        return out.view(y.shape[0], num_samples, *out.shape[1:])

    def noise(self, lifted: Tensor, generator: torch.Generator | None) -> Tensor | None:
        net = self.generator
        if not net.stochastic:
            return None
        shape = (lifted.shape[0], net.noise_channels, *lifted.shape[2:])
        return torch.randn(shape, generator=generator, device=lifted.device, dtype=lifted.dtype)

    def training_output(self, x: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        fake = self.generator(lifted, self.noise(lifted, rng))
        return fake, self.distortion_loss(fake, x)
