"""GAN restorer: generator loss = w_d·distortion + w_p·perceptual + λ·adversarial (λ = `adv_weight`, w_d =
`distortion_weight`, w_p = `perceptual_weight`: ESRGAN's 1e-2, 1 and 5e-3); the loop is `AdversarialRestorer`'s.
The perceptual loss (losses/perceptual.py) is built when training starts and is not part of the module: evaluating
a checkpoint never needs its backbone's weights.

`distortion_on="mean_of_samples"` is PSCGAN's loss (Ohayon et al.): the distortion of the mean of M samples per
input, ‖mean_m G(y, z_m) − x‖², which a posterior sampler minimises, where a per-sample distortion would collapse
the noise; the critic judges one of the M samples.
"""

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation
from tradeoffs.models.adversarial_restorer import AdversarialRestorer
from tradeoffs.models.networks.adapter import ExternalNetwork, NetworkAdapter, NetworkIO, load_weights


class GANRestorer(AdversarialRestorer):
    """`generator` is a factory (Hydra `_partial_`) of this project's generators, completed with in = channels of
    lift(y), out = data channels; they read lift(y) and take z as their second argument. `external`
    (`model/external=network`) replaces it by any `nn.Module` with its own input, value range, noise and weights
    file. The other arguments are `AdversarialRestorer`'s."""

    task_loss_name = "distortion"

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        generator: Callable[..., nn.Module],
        external: ExternalNetwork | None = None,
        distortion_loss: nn.Module | None = None,
        distortion_on: str = "sample",
        num_distortion_samples: int = 8,
        distortion_weight: float = 1.0,
        perceptual_weight: float = 0.0,
        perceptual: Callable[[], nn.Module] | None = None,
        **adversarial_training,
    ) -> None:
        if external is not None:
            network, io, weights = external
        else:
            network, weights = generator(in_channels=degradation.lifted_channels(channels), out_channels=channels), None
            io = NetworkIO(noise_channels=network.noise_channels, noise_input="argument", key="model.generator")
        adapter = NetworkAdapter(degradation, channels, io)
        if distortion_on not in ("sample", "mean_of_samples"):
            raise ConfigError(f"model.distortion_on must be 'sample' or 'mean_of_samples', got {distortion_on!r}")
        if distortion_on == "mean_of_samples" and not adapter.stochastic:
            raise ConfigError(
                f"model.distortion_on=mean_of_samples needs a stochastic generator ({io.key}.noise_channels > 0)"
            )
        if num_distortion_samples < 1:
            raise ConfigError(f"model.num_distortion_samples must be >= 1, got {num_distortion_samples}")
        for key, weight in (("distortion_weight", distortion_weight), ("perceptual_weight", perceptual_weight)):
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ConfigError(f"model.{key} must be a number >= 0, got {weight!r}")
        if perceptual_weight > 0 and perceptual is None:
            raise ConfigError("model.perceptual_weight > 0 needs a model.perceptual loss (model/perceptual=vgg|lpips)")
        super().__init__(degradation, channels, network, **adversarial_training)
        self.adapter, self.initial_weights = adapter, weights
        self.distortion_loss = distortion_loss or nn.MSELoss()
        self.distortion_weight, self.perceptual_weight = float(distortion_weight), float(perceptual_weight)
        self.perceptual_factory, self.perceptual_loss = perceptual, None
        self.samples_per_input = num_distortion_samples if distortion_on == "mean_of_samples" else 1

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.adapter.restore(self.inference_generator, y, num_samples, generator)

    def training_output(self, x: Tensor, y: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """(one sample per input for the critic, the task loss: w_d·distortion of the sample or of the mean of M
        samples, + w_p·perceptual loss of the sample)."""
        m, v = self.samples_per_input, self.adapter.network_input(y)
        if m == 1:
            fake = self.adapter.sample(self.generator, v, rng)
            distortion = self.distortion_loss(fake, x)
        else:
            samples = self.adapter.sample(self.generator, v.repeat_interleave(m, dim=0), rng)
            samples = samples.view(len(x), m, *x.shape[1:])
            fake, distortion = samples[:, 0], self.distortion_loss(samples.mean(dim=1), x)
        task = self.distortion_weight * distortion
        if self.perceptual_weight > 0 and torch.is_grad_enabled():  # the critic's step discards the task loss
            perceptual = self.perceptual_loss(fake, x)
            self.log("train/loss/perceptual", perceptual.detach(), batch_size=len(x))
            task = task + self.perceptual_weight * perceptual
        return fake, task

    def build_perceptual_loss(self) -> None:
        """The frozen perceptual loss on this module's device, built once, kept out of the module tree (no
        checkpoint carries it, nothing switches it to training); only when `perceptual_weight` > 0."""
        if self.perceptual_weight > 0 and self.perceptual_loss is None:
            object.__setattr__(self, "perceptual_loss", self.perceptual_factory())
        if self.perceptual_loss is not None:
            self.perceptual_loss.to(self.device)

    def check_start(self) -> None:
        super().check_start()
        self.build_perceptual_loss()  # missing backbone weights are named before the trainer is built
        if self.initial_weights is not None and not Path(self.initial_weights.path).expanduser().is_file():
            raise ConfigError(f"model.external.weights={self.initial_weights.path}: no such file")

    def on_fit_start(self) -> None:
        """A new run starts from the warm start or else from the external network's weights file
        (`model.external.weights`, into the generator and its EMA); a resumed one from its checkpoint."""
        super().on_fit_start()
        self.build_perceptual_loss()
        if self.initial_weights is None or self.trainer.ckpt_path is not None or self.warm_start is not None:
            return
        for module in (self.generator, self.ema.module if self.ema is not None else None):
            if module is not None:
                load_weights(module, self.initial_weights, "model.external")
