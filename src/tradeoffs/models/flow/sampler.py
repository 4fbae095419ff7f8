"""The flow's ODE sampler, kept apart from the network: dx/dt = v(x, t) integrated by Euler from t = 0 to t_end.

Along a straight path x_t = (1 − t)·x_0 + t·x_1 the velocity is constant (x_1 − x_0), so when the learned field is
exactly that of straight paths every Euler step lands on the path: K steps return (1 − t_end)·x_0 + t_end·x_1 for
any K. Curved paths need more steps (PMRF's default: K = 25).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError


@dataclass
class EulerSampler:
    """`steps` Euler steps of size t_end/steps; `t_end` ∈ (0, 1] stops the flow early (1: the whole transport)."""

    steps: int = 25
    t_end: float = 1.0

    def __post_init__(self) -> None:
        check_knobs(self.steps, self.t_end)

    def sample(
        self,
        velocity: Callable[[Tensor, Tensor], Tensor],
        x_0: Tensor,
        steps: int | None = None,
        t_end: float | None = None,
    ) -> Tensor:
        """x at t_end from x_0 at t = 0; `steps`, `t_end` override the configured values for this call."""
        steps, t_end = self.steps if steps is None else steps, self.t_end if t_end is None else t_end
        check_knobs(steps, t_end)
        x, dt = x_0, t_end / steps
        for i in range(steps):
            x = x + dt * velocity(x, torch.full((len(x),), i * dt, device=x.device, dtype=x.dtype))
        return x


def check_knobs(steps: int, t_end: float) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"model.sampler.steps must be an integer >= 1, got {steps!r}")
    if not 0 < t_end <= 1:
        raise ConfigError(f"model.sampler.t_end must be in (0, 1], got {t_end}")
