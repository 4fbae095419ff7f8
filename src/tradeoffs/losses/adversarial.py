"""Adversarial losses on critic scores (real: clean images, fake: restorations); lower is better for each player."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AdversarialLoss:
    """critic_loss(real, fake) trains the critic; generator_loss(fake) is the term weighted by λ."""

    critic_steps: int = 1
    gp_weight: float = 0.0

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake: Tensor) -> Tensor:
        raise NotImplementedError


class NonSaturating(AdversarialLoss):
    """Goodfellow et al.: critic −log σ(D(x)) − log(1 − σ(D(x̂))); generator −log σ(D(x̂))."""

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


class Hinge(AdversarialLoss):
    """Critic E[relu(1 − D(x))] + E[relu(1 + D(x̂))]; generator −E[D(x̂)]."""

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class WassersteinGP(AdversarialLoss):
    """WGAN-GP: critic E[D(x̂)] − E[D(x)] + gp_weight·E[(‖∇D(x̃)‖ − 1)²]; generator −E[D(x̂)]."""

    def __init__(self, gp_weight: float = 10.0, critic_steps: int = 5) -> None:
        if gp_weight < 0 or critic_steps < 1:
            raise ValueError(f"gp_weight={gp_weight} must be >= 0 and critic_steps={critic_steps} >= 1")
        self.gp_weight, self.critic_steps = gp_weight, critic_steps

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


def gradient_penalty(
    critic: nn.Module, real: Tensor, fake: Tensor, condition: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    """E[(‖∇_x̃ D(x̃)‖₂ − 1)²] at x̃ = εx + (1 − ε)x̂, ε ~ U[0, 1] per image (Gulrajani et al. 2017)."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    inputs = mixed if condition is None else torch.cat([mixed, condition], dim=1)
    (grad,) = torch.autograd.grad(critic(inputs).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
