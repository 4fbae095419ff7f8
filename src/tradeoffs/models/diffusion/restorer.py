"""Conditional diffusion restorer (SR3/Palette): a UNet f(x_t, t, lift(y)) trained with the denoising loss
‖f − target‖² (target ε, x0 or v) + λ·adversarial loss on its one-step estimate x̂0(x_t, y, t).

Images live in [0, 1]; the diffusion runs on 2x − 1. Training draws t ~ U{0, …, T − 1} and ε from generators
seeded by (seed, epoch, batch) (exact resume); `restore` samples K posterior draws per observation in one batched
reverse process with the EMA network.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation, LinearDegradation
from tradeoffs.models.adversarial_restorer import AdversarialRestorer
from tradeoffs.models.diffusion.sampler import Sampler
from tradeoffs.models.diffusion.schedule import NoiseSchedule, check_prediction


def to_diffusion(x: Tensor) -> Tensor:
    return 2 * x - 1


def from_diffusion(z: Tensor) -> Tensor:
    return (z + 1) / 2


class DiffusionRestorer(AdversarialRestorer):
    """`denoiser` is a factory (Hydra `_partial_`) completed with the image and lift(y) channel counts; the other
    arguments after `prediction` are `AdversarialRestorer`'s (critic, adversarial loss, optimizers, λ, EMA, …)."""

    task_loss_name = "diffusion"

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        denoiser: Callable[..., nn.Module],
        schedule: NoiseSchedule,
        sampler: Sampler,
        prediction: str = "epsilon",
        **adversarial_training,
    ) -> None:
        network = denoiser(channels=channels, condition_channels=degradation.lifted_channels(channels))
        super().__init__(degradation, channels, network, **adversarial_training)
        self.schedule, self.sampler, self.prediction = schedule, sampler, check_prediction(prediction)
        sampler.check_steps(schedule.timesteps)
        self.sampling_steps = sampler.steps  # what `restore` passes to the sampler unless told otherwise
        if sampler.data_consistency and not (isinstance(degradation, LinearDegradation) and degradation.noise_free):
            raise ConfigError(
                "model.sampler.data_consistency=true needs a noise-free linear degradation (y = A x exactly); "
                f"{type(degradation).__name__} is not"
            )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if hasattr(self.generator, "check_image_size"):  # the UNet needs sizes divisible by its downsampling
            for key, height, width in self.trainer.datamodule.image_sizes():
                self.generator.check_image_size(height, width, key)

    # --- the sampling knob ---------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        """Validation inside fit samples with `sampler.val_steps` (it bounds the per-epoch cost)."""
        self.sampling_steps = self.sampler.val_steps

    def on_fit_end(self) -> None:
        """Test, evaluate and direct calls sample with `sampler.steps`."""
        self.sampling_steps = self.sampler.steps

    # --- the restorer contract ---------------------------------------------------------------------------
    @torch.no_grad()
    def restore(
        self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None, steps: int | None = None
    ) -> Tensor:
        """K posterior draws per observation with `steps` reverse updates (default: `sampling_steps`)."""
        net = self.inference_generator
        lifted = self.degradation.lift(y).repeat_interleave(num_samples, dim=0)
        shape = (lifted.shape[0], self.channels, *lifted.shape[2:])
        x_T = torch.randn(shape, generator=generator, device=y.device, dtype=y.dtype)

        def predict_x0(x_t: Tensor, t: Tensor) -> Tensor:
            return self.schedule.predicted_x0(self.prediction, net(x_t, t, lifted).to(x_t.dtype), x_t, t)

        project = self.consistency_projection(y.repeat_interleave(num_samples, dim=0))
        z0 = self.sampler.sample(self.schedule, predict_x0, x_T, generator, steps or self.sampling_steps, project)
        out = from_diffusion(z0)
        return out.view(y.shape[0], num_samples, *out.shape[1:])

    def consistency_projection(self, y: Tensor) -> Callable[[Tensor], Tensor] | None:
        """x̂0 ↦ x̂0 + A⁺(y − A x̂0) (in image units), so A x̂0 = y while the null-space content is kept (DDNM)."""
        if not self.sampler.data_consistency:
            return None
        degradation, measured = self.degradation, self.degradation.measurement(y)

        def project(z0: Tensor) -> Tensor:
            x0 = from_diffusion(z0)
            return to_diffusion(x0 + degradation.pseudo_inverse(measured - degradation.operator(x0, y), y))

        return project

    # --- training ----------------------------------------------------------------------------------------
    def training_output(self, x: Tensor, y: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """(x̂0 in image units, ‖f(x_t, t, lift(y)) − target‖²) at t ~ U{0, …, T − 1}, ε ~ N(0, I)."""
        x0 = to_diffusion(x)
        t = torch.randint(0, self.schedule.timesteps, (len(x),), generator=rng, device=x.device)
        noise = torch.randn(x0.shape, generator=rng, device=x.device, dtype=x.dtype)
        x_t = self.schedule.noised(x0, noise, t)
        output = self.generator(x_t, t, lifted)
        loss = F.mse_loss(output, self.schedule.target(self.prediction, x0, noise, t))
        return from_diffusion(self.schedule.predicted_x0(self.prediction, output, x_t, t)), loss
