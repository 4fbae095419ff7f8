"""Posterior-mean rectified flow (PMRF, Ohayon, Michaeli & Elad, ICLR 2025): stage 1 is a frozen MMSE restorer X*(y);
stage 2 a velocity field v(x_t, t) trained with ‖v(x_t, t) − (x − x_src)‖² on x_t = (1 − t)·x_src + t·x,
x_src = X*(y) + σ_s·z, t ~ U(0, 1), and sampled by integrating dx/dt = v from x_src (`sampler.py`).

The ideal flow carries p_{X_src} to p_X; with straight paths and σ_s = 0 its map is the optimal transport of X* onto
p_X, the estimator of least MSE at perfect perception, D(0) = D* + P*² (MATH.md §9), and stopping at t_end gives
(1 − t_end)·X* + t_end·T(X*), the optimal estimator at perception (1 − t_end)·P*. Images stay in [0, 1]; σ_s is in
those units. λ (`adv_weight`) judges the one-step estimate x̂_1 = x_t + (1 − t)·v(x_t, t), as the diffusion
restorer's λ judges x̂0.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation
from tradeoffs.models.adversarial_restorer import AdversarialRestorer
from tradeoffs.models.flow.sampler import EulerSampler
from tradeoffs.models.restorer import Restorer

TIME_SCALE = 1000  # t ∈ [0, 1] enters the networks' sinusoidal embeddings on the diffusion timesteps' scale


class FlowRestorer(AdversarialRestorer):
    """`denoiser` is the velocity network's factory (any `model/denoiser`, completed with the image channels and no
    condition: the flow sees y only through x_src); `posterior_mean` the frozen stage-1 restorer; `source_noise` σ_s.
    The other arguments after `source_noise` are `AdversarialRestorer`'s (critic, λ, optimizers, EMA, …)."""

    task_loss_name = "flow"

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        denoiser: Callable[..., nn.Module],
        posterior_mean: Restorer,
        sampler: EulerSampler,
        source_noise: float = 0.0,
        **adversarial_training,
    ) -> None:
        super().__init__(
            degradation, channels, denoiser(channels=channels, condition_channels=0), **adversarial_training
        )
        if posterior_mean.channels != channels:
            raise ConfigError(
                f"model.posterior_mean restores {posterior_mean.channels} channels, the data has {channels}"
            )
        if source_noise < 0:
            raise ConfigError(f"model.source_noise must be >= 0, got {source_noise}")
        self.posterior_mean = posterior_mean.eval().requires_grad_(False)
        self.sampler, self.source_noise = sampler, float(source_noise)

    def train(self, mode: bool = True) -> "FlowRestorer":
        """Stage 1 stays in eval mode (frozen, EMA weights) while the flow trains."""
        super().train(mode)
        self.posterior_mean.eval()
        return self

    def velocity(self, net: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
        return lambda x, t: net(x, TIME_SCALE * t, x[:, :0])

    def source(self, y: Tensor, num_samples: int, generator: torch.Generator | None) -> Tensor:
        """x_src = X*(y) + σ_s·z, num_samples per observation (B·K, C, H, W)."""
        mean = self.posterior_mean.restore(y, 1, generator=generator)[:, 0].repeat_interleave(num_samples, dim=0)
        if self.source_noise == 0:
            return mean
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + self.source_noise * noise

    # --- the restorer contract ---------------------------------------------------------------------------
    @torch.no_grad()
    def restore(
        self,
        y: Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        t_end: float | None = None,
    ) -> Tensor:
        """K draws per observation: the flow from x_src integrated to `t_end` in `steps` Euler steps (defaults: the
        sampler's)."""
        x = self.source(y, num_samples, generator)
        out = self.sampler.sample(self.velocity(self.inference_generator), x, steps, t_end)
        return out.view(y.shape[0], num_samples, *out.shape[1:])

    # --- training ----------------------------------------------------------------------------------------
    def training_output(self, x: Tensor, y: Tensor, lifted: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """(x̂_1 = x_t + (1 − t)·v, ‖v(x_t, t) − (x − x_src)‖²) at t ~ U(0, 1)."""
        with torch.no_grad():
            source = self.source(y, 1, rng)
        t = torch.rand(len(x), generator=rng, device=x.device, dtype=x.dtype)
        tb = t.view(-1, *[1] * (x.dim() - 1))
        x_t = (1 - tb) * source + tb * x
        v = self.velocity(self.generator)(x_t, t)
        return x_t + (1 - tb) * v, F.mse_loss(v, x - source)
