"""Jointly Gaussian denoising, X ~ N(μ, Σ), Y = X + σN: the posterior is N(μ + W(y − μ), Σ_{x|y}) with

W = Σ(Σ + σ²I)⁻¹ (the Wiener filter, the MMSE estimator X* = μ + W(Y − μ)) and Σ_{x|y} = Σ − WΣ, independent of y.
D* = tr Σ_{x|y} (total MMSE), X* ~ N(μ, Σ − Σ_{x|y}), P* = W2(p_X, p_{X*}), and N(X|Y) = det(Σ_{x|y})^{1/d}.
The mean of k independent posterior samples is X* plus k averaged posterior deviations: N(μ, Σ − Σ_{x|y} + Σ_{x|y}/k).
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from tradeoffs.core.gaussian import frechet_distance, gaussian_entropy_power
from tradeoffs.data.degradations import Degradation, GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.data.sources import ImageSource


def wiener_filter(prior_cov: Tensor, noise_var: float) -> Tensor:
    """W = Σ(Σ + σ²I)⁻¹, float64."""
    cov = prior_cov.to(torch.float64)
    eye = torch.eye(cov.shape[0], dtype=torch.float64)
    return torch.linalg.solve(cov + noise_var * eye, cov).T  # ((Σ+σ²I)⁻¹Σ)ᵀ = Σ(Σ+σ²I)⁻¹ for symmetric Σ


def posterior_covariance(prior_cov: Tensor, noise_var: float) -> Tensor:
    """Σ_{x|y} = Σ − Σ(Σ + σ²I)⁻¹Σ, float64 and symmetrised."""
    cov = prior_cov.to(torch.float64)
    post = cov - wiener_filter(cov, noise_var) @ cov
    return (post + post.T) / 2


@dataclass(frozen=True)
class GaussianDenoisingTheory:
    """The closed-form quantities of Gaussian denoising (totals over the d dimensions; divide by d per pixel)."""

    dim: int
    mmse: float  # D* = tr Σ_{x|y}
    perfect_perception_distance: float  # P* = W2(p_X, p_{X*})
    inherent_uncertainty: float  # N(X|Y) = det(Σ_{x|y})^{1/d}

    @classmethod
    def from_prior(cls, prior_cov: Tensor, noise_var: float) -> "GaussianDenoisingTheory":
        cov = prior_cov.to(torch.float64)
        post = posterior_covariance(cov, noise_var)
        zero = torch.zeros(cov.shape[0], dtype=torch.float64)
        p_star = frechet_distance(zero, cov, zero, cov - post).clamp_min(0).sqrt()
        return cls(cov.shape[0], float(post.trace()), float(p_star), float(gaussian_entropy_power(post)))


def k_average_covariance(prior_cov: Tensor, noise_var: float, k: int) -> Tensor:
    """Covariance of the mean of k posterior samples, Σ_{X*} + Σ_{x|y}/k = Σ − (1 − 1/k)·Σ_{x|y} (float64)."""
    cov = prior_cov.to(torch.float64)
    return cov - (1 - 1 / k) * posterior_covariance(cov, noise_var)


def k_average_w2(prior_cov: Tensor, noise_var: float, k: int) -> float:
    """W2(p_X, p_{X̄_k}) of the mean of k posterior samples (same mean μ): k = 1 is 0, k → ∞ is P*."""
    cov = prior_cov.to(torch.float64)
    zero = torch.zeros(cov.shape[0], dtype=torch.float64)
    return float(frechet_distance(zero, cov, zero, k_average_covariance(cov, noise_var, k)).clamp_min(0).sqrt())


def denoising_theory(source: ImageSource, degradation: Degradation) -> GaussianDenoisingTheory | None:
    """The closed forms when the data is the `gaussian` source under fixed-σ denoising; None otherwise."""
    if not isinstance(source, GaussianImages) or not isinstance(degradation, GaussianNoise):
        return None
    if degradation.low != degradation.high:
        return None
    return GaussianDenoisingTheory.from_prior(source.covariance, degradation.low**2)


def linear_gaussian_posterior(
    prior_mean: Tensor, prior_cov: Tensor, operator: Tensor, noise_var: float, y: Tensor
) -> tuple[Tensor, Tensor]:
    """X ~ N(μ, Σ), Y = A X + σN: the posterior N(μ + K(y − Aμ), Σ − KAΣ) with K = ΣAᵀ(AΣAᵀ + σ²I)⁻¹, float64.

    `operator` is the matrix A (m × d), `y` a vector (m,); returns (posterior mean (d,), posterior covariance)."""
    mean, cov, a = (t.to(torch.float64) for t in (prior_mean, prior_cov, operator))
    gram = a @ cov @ a.T + noise_var * torch.eye(a.shape[0], dtype=torch.float64)
    gain = torch.linalg.solve(gram, a @ cov).T  # (Gram⁻¹ A Σ)ᵀ = Σ Aᵀ Gram⁻¹
    post = cov - gain @ a @ cov
    return mean + gain @ (y.to(torch.float64) - a @ mean), (post + post.T) / 2
