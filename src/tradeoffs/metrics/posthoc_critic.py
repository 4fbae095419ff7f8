"""Post-hoc critic perception (Blau & Michaeli 2018): train a fresh WGAN-GP critic f on a train split of clean vs
restored images for a fixed budget, then report Ŵ1 = E f(x) − E f(x̂) on the held-out split.

Ŵ1 is a lower bound on W1 (up to sampling noise) whose tightness depends on the critic's capacity and budget, so
compare values only between runs measured with the same settings.
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.measure import Batch, Key, Measure

CriticFactory = Callable[..., nn.Module]  # critic(in_channels=C, layers=L) -> (B, 1) scores
Penalty = Callable[[nn.Module, Tensor, Tensor, None, torch.Generator], Tensor]  # E(‖∇D‖ − 1)² at mixed inputs


def posthoc_critic_w1(
    real: Tensor,
    fake: Tensor,
    critic: CriticFactory,
    penalty: Penalty,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    gp_weight: float = 10.0,
    layers: int = 3,
    seed: int = 0,
) -> Tensor:
    """Ŵ1 between image sets real, fake (N, C, H, W): a fresh `critic(in_channels, layers)` trained with the
    gradient `penalty` on the first halves, evaluated on the second (layers capped at log2 of the image size)."""
    n = min(len(real), len(fake))
    if n < 4:
        raise EstimatorInputError(
            f"the post-hoc critic needs at least 4 images per set, got {len(real)} and {len(fake)}"
        )
    split, g = n // 2, generator_for(seed, 0xC7, device=real.device)
    layers = max(1, min(layers, int(math.log2(min(real.shape[-2:])))))
    with torch.inference_mode(False), torch.enable_grad():  # also inside Lightning's validation loop
        real, fake = real.clone(), fake.clone()  # plain tensors, not inference tensors
        with torch.random.fork_rng(devices=[real.device] if real.is_cuda else []):
            torch.manual_seed(seed)
            net = critic(in_channels=real.shape[1], layers=layers).to(real.device)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.9))
        for _ in range(steps):
            i = torch.randint(0, split, (min(batch_size, split),), generator=g, device=real.device)
            j = torch.randint(0, split, (min(batch_size, split),), generator=g, device=real.device)
            x, x_hat = real[i], fake[j]
            loss = net(x_hat).mean() - net(x).mean() + gp_weight * penalty(net, x, x_hat, None, g)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return (net(real[split:n]).mean() - net(fake[split:n]).mean()).to(torch.float64)


class PosthocCritic(nn.Module, Measure):
    """`critic_w1`: Ŵ1 between the clean inputs and their first samples, every `every_n_epochs` epochs (0: never
    while training; `evaluate posthoc_critic=true` measures it once). The critic network and its gradient penalty
    are injected (`conf/metrics`), so measurement does not depend on the model layer."""

    keys = {"critic_w1": Key("perception")}

    def __init__(
        self, critic: CriticFactory, penalty: Penalty, every_n_epochs: int = 0, steps: int = 300, seed: int = 0
    ) -> None:
        super().__init__()
        self.critic, self.penalty, self.every_n_epochs, self.steps, self.seed = (
            critic,
            penalty,
            every_n_epochs,
            steps,
            seed,
        )
        self.real: list[Tensor] = []
        self.fake: list[Tensor] = []

    def reset(self) -> None:
        self.real, self.fake = [], []

    def update(self, batch: Batch) -> None:
        self.real.append(batch.x)
        self.fake.append(batch.first)

    def compute(self) -> dict[str, Tensor]:
        real, fake = torch.cat(self.real), torch.cat(self.fake)
        return {"critic_w1": posthoc_critic_w1(real, fake, self.critic, self.penalty, self.steps, seed=self.seed)}
