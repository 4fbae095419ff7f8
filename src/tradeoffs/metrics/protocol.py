"""What measurement may call on a restorer, written down once. Nothing else of a model is reached into."""

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


class Lifting(Protocol):
    def lift(self, y: Tensor) -> Tensor:
        """The observation in image space (upsampled, grey replicated, mask appended): what a panel shows."""


@runtime_checkable
class MeasuredRestorer(Protocol):
    """A restorer as the measurement engine sees it (`models.restorer.Restorer` implements it).

    - `restore(y, K, generator)` -> (B, K, C, H, W): K restorations of each observation, drawn with `generator`;
    - `eval_generator(*keys)`: the seeded generator for evaluation draws keyed by `keys` (None if deterministic),
      so two measurements of the same weights agree exactly;
    - `auxiliary_maps(y, generator)` -> {name: (B, 1, H, W)}: per-pixel maps the restorer explains itself with (a
      fusion restorer's hallucination map φ), {} for most;
    - `degradation.lift(y)`, `device`.
    """

    degradation: Lifting
    device: torch.device

    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor: ...

    def eval_generator(self, *keys: int) -> torch.Generator | None: ...

    def auxiliary_maps(self, y: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]: ...


def check_restorer(restorer: object) -> None:
    """TypeError naming what a restorer lacks of the protocol (before any measurement runs)."""
    missing = [
        name
        for name in ("restore", "eval_generator", "auxiliary_maps", "degradation", "device")
        if not hasattr(restorer, name)
    ]
    if missing:
        raise TypeError(f"{type(restorer).__name__} does not implement MeasuredRestorer: no {', '.join(missing)}")
