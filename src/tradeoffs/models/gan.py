"""GAN restorer: generator loss = distortion + λ·adversarial (λ = `adv_weight`); the loop is `AdversarialRestorer`'s.

`distortion_on="mean_of_samples"` is PSCGAN's loss (Ohayon et al.): the distortion of the mean of M samples per
input, ‖mean_m G(y, z_m) − x‖², which a posterior sampler minimises, where a per-sample distortion would collapse
the noise; the critic judges one of the M samples.
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
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
        distortion_on: str = "sample",
        num_distortion_samples: int = 8,
        **adversarial_training,
    ) -> None:
        network = generator(in_channels=degradation.lifted_channels(channels), out_channels=channels)
        if distortion_on not in ("sample", "mean_of_samples"):
            raise ConfigError(f"model.distortion_on must be 'sample' or 'mean_of_samples', got {distortion_on!r}")
        if distortion_on == "mean_of_samples" and not network.stochastic:
            raise ConfigError(
                "model.distortion_on=mean_of_samples needs a stochastic generator (model.generator.noise_channels > 0)"
            )
        if num_distortion_samples < 1:
            raise ConfigError(f"model.num_distortion_samples must be >= 1, got {num_distortion_samples}")
        super().__init__(degradation, channels, network, **adversarial_training)
        self.distortion_loss = distortion_loss or nn.MSELoss()
        self.samples_per_input = num_distortion_samples if distortion_on == "mean_of_samples" else 1

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

    def training_output(self, x: Tensor, y: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """(one sample per input for the critic, distortion of the sample or of the mean of M samples)."""
        m = self.samples_per_input
        if m == 1:
            fake = self.generator(lifted, self.noise(lifted, rng))
            return fake, self.distortion_loss(fake, x)
        lifted = lifted.repeat_interleave(m, dim=0)
        samples = self.generator(lifted, self.noise(lifted, rng)).view(len(x), m, *x.shape[1:])
        return samples[:, 0], self.distortion_loss(samples.mean(dim=1), x)
