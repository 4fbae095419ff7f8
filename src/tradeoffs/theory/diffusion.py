"""The optimal one-step denoiser of a Gaussian target, to check samplers without training.

If x0 ~ N(m, S) and x_t = √ᾱ x0 + √(1 − ᾱ) ε, then E[x0 | x_t] = m + √ᾱ S (ᾱ S + (1 − ᾱ) I)⁻¹ (x_t − √ᾱ m).
With (m, S) the posterior of x given an observation y, a sampler driven by this x̂0 samples p(x | y) up to its
discretisation error.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from tradeoffs.models.diffusion.schedule import NoiseSchedule


def gaussian_x0_denoiser(mean: Tensor, cov: Tensor, schedule: NoiseSchedule) -> Callable[[Tensor, Tensor], Tensor]:
    """x̂0(x_t, t) = E[x0 | x_t] for x0 ~ N(mean, cov) (d-vectors; x_t of shape (B, d) or (B, …) flattening to d)."""
    mean, cov = mean.to(torch.float64), cov.to(torch.float64)
    eye = torch.eye(len(mean), dtype=torch.float64)

    def predict_x0(x_t: Tensor, t: Tensor) -> Tensor:
        a = float(schedule.alphas_cumprod[int(t[0])])
        flat = x_t.reshape(len(x_t), -1).to(torch.float64)
        gain = a**0.5 * torch.linalg.solve(a * cov + (1 - a) * eye, cov)  # symmetric S, so gain = √ᾱ (ᾱS + (1−ᾱ)I)⁻¹S
        out = mean + (flat - a**0.5 * mean) @ gain
        return out.reshape(x_t.shape).to(x_t.dtype)

    return predict_x0
