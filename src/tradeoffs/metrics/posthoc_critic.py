"""Post-hoc critic perception (Blau & Michaeli 2018): train a fresh WGAN-GP critic f on a train split of clean vs
restored images for a fixed budget, then report Ŵ1 = E f(x) − E f(x̂) on the held-out split.

Ŵ1 is a lower bound on W1 (up to sampling noise) whose tightness depends on the critic's capacity and budget, so
compare values only between runs measured with the same settings.
"""

import math

import torch
from torch import Tensor

from tradeoffs.data.seeding import generator_for
from tradeoffs.errors import EstimatorInputError
from tradeoffs.losses.adversarial import gradient_penalty
from tradeoffs.models.networks.critics import GlobalCritic


def posthoc_critic_w1(
    real: Tensor,
    fake: Tensor,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    gp_weight: float = 10.0,
    width: int = 32,
    layers: int = 3,
    seed: int = 0,
) -> Tensor:
    """Ŵ1 between image sets real, fake (N, C, H, W): critic trained on the first halves, evaluated on the second."""
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
            critic = GlobalCritic(real.shape[1], width, layers).to(real.device)
        optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
        for _ in range(steps):
            i = torch.randint(0, split, (min(batch_size, split),), generator=g, device=real.device)
            j = torch.randint(0, split, (min(batch_size, split),), generator=g, device=real.device)
            x, x_hat = real[i], fake[j]
            loss = critic(x_hat).mean() - critic(x).mean() + gp_weight * gradient_penalty(critic, x, x_hat, None, g)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return (critic(real[split:n]).mean() - critic(fake[split:n]).mean()).to(torch.float64)
