"""The forward process q(x_t | x0) = N(√ᾱ_t x0, (1 − ᾱ_t) I), t = 0 … T − 1, with diffusers' beta schedules.

The schedule owns the training-time quantities (ᾱ_t, noising, the training target of each parameterisation) and
the conversion of a network output back to the one-step estimate x̂0(x_t, t); samplers (`sampler.py`) build their
diffusers scheduler from `scheduler_config`, so both sides always agree on the betas.
"""

import torch
from diffusers import DDPMScheduler
from torch import Tensor

from tradeoffs.core.errors import ConfigError

BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2", "scaled_linear": "scaled_linear"}
PREDICTIONS = ("epsilon", "x0", "v")


class NoiseSchedule:
    """`kind`: linear (Ho et al., β from `beta_start` to `beta_end`), cosine (Nichol & Dhariwal) or scaled_linear."""

    def __init__(
        self, kind: str = "cosine", timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> None:
        if kind not in BETA_SCHEDULES:
            raise ConfigError(f"model.schedule.kind must be one of {', '.join(BETA_SCHEDULES)}, got {kind!r}")
        if timesteps < 1:
            raise ConfigError(f"model.schedule.timesteps must be >= 1, got {timesteps}")
        self.kind, self.timesteps = kind, int(timesteps)
        self.scheduler_config = dict(
            num_train_timesteps=self.timesteps,
            beta_schedule=BETA_SCHEDULES[kind],
            beta_start=beta_start,
            beta_end=beta_end,
            clip_sample=False,
            timestep_spacing="trailing",  # the first sampling step is t = T − 1 for any number of steps
        )
        self.alphas_cumprod = DDPMScheduler(**self.scheduler_config).alphas_cumprod.to(torch.float64)

    def alpha_bar(self, t: Tensor, like: Tensor) -> Tensor:
        """ᾱ_t shaped (B, 1, …, 1) to broadcast against `like`, in its dtype and device."""
        a = self.alphas_cumprod.to(like.device)[t.long().to(like.device)]
        return a.to(like.dtype).view(-1, *[1] * (like.dim() - 1))

    def noised(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, prediction: str, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """What the network regresses: ε, x0, or v = √ᾱ_t ε − √(1 − ᾱ_t) x0 (Salimans & Ho)."""
        if prediction == "epsilon":
            return noise
        if prediction == "x0":
            return x0
        a = self.alpha_bar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def predicted_x0(self, prediction: str, output: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """x̂0 from a network output: (x_t − √(1 − ᾱ) ε̂)/√ᾱ, the output itself, or √ᾱ x_t − √(1 − ᾱ) v̂."""
        if prediction == "x0":
            return output
        a = self.alpha_bar(t, x_t)
        if prediction == "epsilon":
            return (x_t - (1 - a).sqrt() * output) / a.sqrt()
        return a.sqrt() * x_t - (1 - a).sqrt() * output


def check_prediction(prediction: str) -> str:
    if prediction not in PREDICTIONS:
        raise ConfigError(f"model.prediction must be one of {', '.join(PREDICTIONS)}, got {prediction!r}")
    return prediction
