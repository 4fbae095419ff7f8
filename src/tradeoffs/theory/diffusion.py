"""The optimal one-step denoiser of a Gaussian target, to check samplers without training.

If x0 ~ N(m, S) and x_t = √ᾱ x0 + √(1 − ᾱ) ε, then E[x0 | x_t] = m + √ᾱ S (ᾱ S + (1 − ᾱ) I)⁻¹ (x_t − √ᾱ m).
With (m, S) the posterior of x given an observation y, a sampler driven by this x̂0 samples p(x | y) up to its
discretisation error.
"""

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor, nn

from tradeoffs.theory.gaussian import posterior_covariance, wiener_filter


class HasAlphasCumprod(Protocol):
    """A noise schedule, as far as these oracles read it (`models.diffusion.schedule.NoiseSchedule` is one)."""

    alphas_cumprod: Tensor


def gaussian_x0_estimate(mean: Tensor, cov: Tensor, x_t: Tensor, alpha_bar: float) -> Tensor:
    """E[x0 | x_t] for x0 ~ N(mean, cov), float64; x_t (B, d), mean (d,) or one mean per row (B, d)."""
    eye = torch.eye(cov.shape[0], dtype=torch.float64)
    gain = alpha_bar**0.5 * torch.linalg.solve(alpha_bar * cov + (1 - alpha_bar) * eye, cov)  # symmetric: = Gᵀ
    return mean + (x_t - alpha_bar**0.5 * mean) @ gain


def gaussian_x0_denoiser(mean: Tensor, cov: Tensor, schedule: HasAlphasCumprod) -> Callable[[Tensor, Tensor], Tensor]:
    """x̂0(x_t, t) = E[x0 | x_t] for x0 ~ N(mean, cov), for a sampler; x_t (B, …) flattening to d, one t per call."""
    mean, cov = mean.to(torch.float64), cov.to(torch.float64)

    def predict_x0(x_t: Tensor, t: Tensor) -> Tensor:
        a = float(schedule.alphas_cumprod[int(t[0])])
        out = gaussian_x0_estimate(mean, cov, x_t.reshape(len(x_t), -1).to(torch.float64), a)
        return out.reshape(x_t.shape).to(x_t.dtype)

    return predict_x0


class GaussianPosteriorDenoiser(nn.Module):
    """The exact x0-network of a restorer in diffusion units (z = 2x − 1) for Gaussian denoising: prior
    X ~ N(μ, Σ) in image units, observation y = x + σn passed as the condition; returns E[z0 | z_t, y].

    Plugged into `DiffusionRestorer` (prediction="x0"), `restore` draws from the true posterior p(x | y)."""

    def __init__(self, prior_mean: Tensor, prior_cov: Tensor, noise_var: float, schedule: HasAlphasCumprod) -> None:
        super().__init__()
        self.wiener = wiener_filter(prior_cov, noise_var)
        self.prior_mean, self.schedule = prior_mean.to(torch.float64), schedule
        self.post_cov = 4 * posterior_covariance(prior_cov, noise_var)  # Σ_{x|y} in diffusion units

    def forward(self, z_t: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        y = condition.reshape(len(condition), -1).to(torch.float64)
        post_mean = 2 * (self.prior_mean + (y - self.prior_mean) @ self.wiener.T) - 1
        flat = z_t.reshape(len(z_t), -1).to(torch.float64)
        out = torch.empty_like(flat)
        for step in t.unique():
            rows = t == step
            a = float(self.schedule.alphas_cumprod[int(step)])
            out[rows] = gaussian_x0_estimate(post_mean[rows], self.post_cov, flat[rows], a)
        return out.reshape(z_t.shape).to(z_t.dtype)
