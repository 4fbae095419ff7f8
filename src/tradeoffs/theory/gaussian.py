"""Jointly Gaussian denoising, X ~ N(μ, Σ), Y = X + σN: the posterior is N(μ + W(y − μ), Σ_{x|y}) with

W = Σ(Σ + σ²I)⁻¹ (the Wiener filter, the MMSE estimator) and Σ_{x|y} = Σ − WΣ, independent of y.
D* = tr Σ_{x|y} (total MMSE) and the inherent uncertainty N(X|Y) = det(Σ_{x|y})^{1/d}.
"""

import torch
from torch import Tensor


def wiener_filter(prior_cov: Tensor, noise_var: float) -> Tensor:
    """W = Σ(Σ + σ²I)⁻¹, float64."""
    cov = prior_cov.to(torch.float64)
    eye = torch.eye(cov.shape[0], dtype=torch.float64)
    return torch.linalg.solve(cov + noise_var * eye, cov).T  # Σ symmetric: (Σ+σ²I)⁻¹Σ transposed = Σ(Σ+σ²I)⁻¹


def posterior_covariance(prior_cov: Tensor, noise_var: float) -> Tensor:
    """Σ_{x|y} = Σ − Σ(Σ + σ²I)⁻¹Σ, float64 and symmetrised."""
    cov = prior_cov.to(torch.float64)
    post = cov - wiener_filter(cov, noise_var) @ cov
    return (post + post.T) / 2
