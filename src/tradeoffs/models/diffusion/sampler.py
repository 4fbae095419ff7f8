"""Reverse diffusion x_T ~ N(0, I) → x_0 with diffusers' DDPM or DDIM update, driven by any x̂0(x_t, t).

The network enters only through the one-step estimate x̂0, which is clipped to the data range [−1, 1] (Ho et al.;
off for unbounded data) and optionally projected (data consistency) before each update; the update itself is
diffusers' (`prediction_type="sample"`). DDIM's η ∈ [0, 1] sets the stochasticity,
σ_t = η·√((1 − ᾱ_prev)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev): η = 0 is deterministic given x_T, η = 1 has DDPM's posterior
variance.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.models.diffusion.schedule import NoiseSchedule

SAMPLERS = ("ddim", "ddpm")


@dataclass
class Sampler:
    """`steps` sampling steps for testing and evaluation, `val_steps` (default: `steps`) for validation during fit.
    `data_consistency`: replace x̂0 by its range–null-space projection onto {x : A x = y} (DDNM).
    `clip_x0`: clamp x̂0 to [−1, 1] first (images; an ε-network's x̂0 = (x_t − √(1 − ᾱ) ε̂)/√ᾱ explodes as ᾱ → 0)."""

    kind: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    val_steps: int | None = None
    data_consistency: bool = False
    clip_x0: bool = True

    def __post_init__(self) -> None:
        if self.kind not in SAMPLERS:
            raise ConfigError(f"model.sampler.kind must be one of {', '.join(SAMPLERS)}, got {self.kind!r}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"model.sampler.eta must be in [0, 1], got {self.eta}")
        if self.kind == "ddpm" and self.eta != 1:
            raise ConfigError(
                f"model.sampler.eta={self.eta} applies to kind=ddim; ddpm is the η = 1 sampler: set eta=1 with it"
            )
        self.val_steps = self.steps if self.val_steps is None else self.val_steps

    def check_steps(self, timesteps: int) -> None:
        for key in ("steps", "val_steps"):
            if not 1 <= getattr(self, key) <= timesteps:
                raise ConfigError(
                    f"model.sampler.{key} must be in [1, {timesteps}] (the training horizon), got {getattr(self, key)}"
                )

    def scheduler(self, schedule: NoiseSchedule, steps: int, device: torch.device) -> DDIMScheduler | DDPMScheduler:
        config = dict(schedule.scheduler_config, prediction_type="sample")
        scheduler = DDIMScheduler(**config) if self.kind == "ddim" else DDPMScheduler(**config)
        scheduler.set_timesteps(steps, device=device)
        return scheduler

    def sample(
        self,
        schedule: NoiseSchedule,
        predict_x0: Callable[[Tensor, Tensor], Tensor],
        x_T: Tensor,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        project: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Run `steps` (default `self.steps`) reverse updates from x_T; returns x_0."""
        scheduler = self.scheduler(schedule, steps or self.steps, x_T.device)
        options = {"eta": self.eta} if self.kind == "ddim" else {}
        x = x_T
        for t in scheduler.timesteps:
            x0 = predict_x0(x, t.expand(len(x)))
            if self.clip_x0:
                x0 = x0.clamp(-1, 1)
            if project is not None:
                x0 = project(x0)
            x = scheduler.step(x0, t, x, generator=generator, **options).prev_sample
        return x
