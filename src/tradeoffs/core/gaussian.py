"""Divergences and entropy powers of Gaussian fits. Everything is computed in float64.

Notation: N(μ1, Σ1), N(μ2, Σ2) in R^d, Δ = μ2 − μ1.
"""

import math

import torch
from torch import Tensor

from tradeoffs.core.errors import EstimatorInputError


def _f64(*tensors: Tensor) -> list[Tensor]:
    return [t.to(torch.float64) for t in tensors]


def feature_sums(features: Tensor) -> tuple[Tensor, Tensor, int]:
    """Streaming statistics of (n, d) features: (Σx, Σxxᵀ, n), in float64."""
    (f,) = _f64(features)
    return f.sum(0), symmetric_product(f), f.shape[0]


def symmetric_product(f: Tensor) -> Tensor:
    """fᵀf from the products of its column halves on and above the diagonal, the block below mirrored: three
    quarters of the multiplications of one product (torch has no symmetric rank-k update)."""
    half = f.shape[1] // 2
    if half < 64:
        return f.T @ f
    left, right = f[:, :half], f[:, half:]
    out = torch.empty(f.shape[1], f.shape[1], dtype=f.dtype, device=f.device)
    out[:half, :half], out[half:, half:] = left.T @ left, right.T @ right
    out[:half, half:] = left.T @ right
    out[half:, :half] = out[:half, half:].T
    return out


def gaussian_fit(total: Tensor, outer: Tensor, n: int, ddof: int = 1) -> tuple[Tensor, Tensor]:
    """Mean and covariance from streamed sums: μ = Σx/n, Σ = (Σxxᵀ − n μμᵀ)/(n − ddof)."""
    if n <= ddof:
        raise EstimatorInputError(f"a Gaussian fit needs more than {ddof} sample(s), got {n}")
    total, outer = _f64(total, outer)
    mean = total / n
    return mean, (outer - n * torch.outer(mean, mean)) / (n - ddof)


def sqrtm_psd(cov: Tensor) -> Tensor:
    """Symmetric square root of a PSD matrix via eigh (negative round-off eigenvalues clipped to 0)."""
    values, vectors = torch.linalg.eigh(cov.to(torch.float64))
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def gaussian_transport_map(mu_s: Tensor, cov_s: Tensor, mu_t: Tensor, cov_t: Tensor, eps: float = 1e-8) -> Tensor:
    """The matrix A of the optimal (W2) transport T(v) = μ_t + A(v − μ_s) from N(μ_s, Σs) to N(μ_t, Σt):
    A = Σs^{−1/2}(Σs^{1/2} Σt Σs^{1/2})^{1/2} Σs^{−1/2}, symmetric PSD; Σs is regularised by eps·I (float64)."""
    cov_s, cov_t = _f64(cov_s, cov_t)
    values, vectors = torch.linalg.eigh(cov_s + eps * torch.eye(cov_s.shape[0], dtype=torch.float64))
    root = (vectors * values.clamp_min(eps).sqrt()) @ vectors.T
    inv_root = (vectors / values.clamp_min(eps).sqrt()) @ vectors.T
    return inv_root @ sqrtm_psd(root @ cov_t @ root) @ inv_root


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> Tensor:
    """W2² between Gaussians: ‖Δ‖² + tr Σ1 + tr Σ2 − 2 Σ_i sqrt(λ_i(Σ1 Σ2)).

    The eigenvalues of Σ1Σ2 are those of the symmetric Lᵀ Σ2 L for any L with Σ1 = L Lᵀ: the Cholesky factor when
    Σ1 is positive definite (a few times cheaper than a square root), else Σ1^{1/2} by eigh."""
    mu1, cov1, mu2, cov2 = _f64(mu1, cov1, mu2, cov2)
    factor, info = torch.linalg.cholesky_ex(cov1)
    if info.item() != 0:
        factor = sqrtm_psd(cov1)
    cross = torch.linalg.eigvalsh(factor.T @ cov2 @ factor).clamp_min(0).sqrt().sum()
    return (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * cross


def frechet_distance_features(a: Tensor, b: Tensor) -> Tensor:
    """Fréchet distance of the Gaussian fits of features a (n1, d) and b (n2, d).

    With more samples than dimensions, from the d×d covariances; with fewer (singular fits), from the centred
    matrices A, B alone: tr Σ1 = ‖A‖²_F/(n1−1) and tr (Σ1Σ2)^{1/2} = ‖A Bᵀ‖_* / sqrt((n1−1)(n2−1)), so no d×d
    matrix is formed (cost O(n1·n2·d))."""
    a, b = _f64(a, b)
    n1, n2 = a.shape[0], b.shape[0]
    if min(n1, n2) < 2:
        raise EstimatorInputError(f"the Fréchet distance needs at least 2 samples per set, got {n1} and {n2}")
    if min(n1, n2) > a.shape[1]:
        return frechet_distance(*gaussian_fit(*feature_sums(a)), *gaussian_fit(*feature_sums(b)))
    mu1, mu2 = a.mean(0), b.mean(0)
    ac, bc = a - mu1, b - mu2
    cross = torch.linalg.svdvals(ac @ bc.T).sum() / math.sqrt((n1 - 1) * (n2 - 1))
    return (mu1 - mu2).square().sum() + ac.square().sum() / (n1 - 1) + bc.square().sum() / (n2 - 1) - 2 * cross


def gaussian_kl(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> Tensor:
    """KL(N1 ‖ N2) = ½[tr(Σ2⁻¹Σ1) + Δᵀ Σ2⁻¹ Δ − d + ln det Σ2 − ln det Σ1]; +∞ if Σ1 or Σ2 is singular."""
    mu1, cov1, mu2, cov2 = _f64(mu1, cov1, mu2, cov2)
    chol2, info = torch.linalg.cholesky_ex(cov2)
    sign1, logdet1 = torch.linalg.slogdet(cov1)
    if info or sign1 <= 0:
        return torch.tensor(math.inf, dtype=torch.float64)
    delta = (mu2 - mu1)[:, None]
    trace = torch.cholesky_solve(cov1, chol2).trace()
    mahalanobis = (delta.T @ torch.cholesky_solve(delta, chol2)).squeeze()
    logdet2 = 2 * chol2.diagonal().log().sum()
    return 0.5 * (trace + mahalanobis - mu1.numel() + logdet2 - logdet1)


def renyi_divergence_gaussian(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor, alpha: float = 0.5) -> Tensor:
    """Rényi divergence D_α(N1 ‖ N2) = ln ∫ p1^α p2^{1−α} / (α − 1), α ∈ (0, 1) (symmetric and finite at α = ½):

    D_α = (α/2) Δᵀ Σ_α⁻¹ Δ − ln(det Σ_α / (det Σ1^{1−α} det Σ2^{α})) / (2(α − 1)),  Σ_α = αΣ2 + (1 − α)Σ1.
    +∞ when Σ_α is not positive definite or a covariance is singular.
    """
    if not 0 < alpha < 1:
        raise EstimatorInputError(f"alpha must be in (0, 1), got {alpha}")
    mu1, cov1, mu2, cov2 = _f64(mu1, cov1, mu2, cov2)
    cov_a = alpha * cov2 + (1 - alpha) * cov1
    chol, info = torch.linalg.cholesky_ex(cov_a)
    (sign1, logdet1), (sign2, logdet2) = torch.linalg.slogdet(cov1), torch.linalg.slogdet(cov2)
    if info or sign1 <= 0 or sign2 <= 0:
        return torch.tensor(math.inf, dtype=torch.float64)
    delta = (mu2 - mu1)[:, None]
    mahalanobis = (delta.T @ torch.cholesky_solve(delta, chol)).squeeze()
    log_ratio = 2 * chol.diagonal().log().sum() - (1 - alpha) * logdet1 - alpha * logdet2
    return alpha / 2 * mahalanobis - log_ratio / (2 * (alpha - 1))


def gaussian_entropy_power(cov: Tensor) -> Tensor:
    """N = exp(2h/d)/(2πe) = det(Σ)^{1/d} for a Gaussian with covariance Σ (0 when Σ is singular)."""
    sign, logdet = torch.linalg.slogdet(cov.to(torch.float64))
    return torch.where(sign > 0, torch.exp(logdet / cov.shape[-1]), torch.zeros_like(logdet))


def logdet_unbiased(cov: Tensor, n: int) -> Tensor:
    """Unbiased estimate of ln det Σ from a sample covariance S (ddof 1) of n Gaussian samples in R^d:

    ln det S − d·ln(2/m) − Σ_{i=1..d} ψ((m − i + 1)/2),  m = n − 1  (since (n − 1)S ~ Wishart_d(m, Σ)).
    Works on a batch (..., d, d). Needs m ≥ d.
    """
    d, m = cov.shape[-1], n - 1
    if m < d:
        raise EstimatorInputError(
            f"an unbiased log-determinant in dimension {d} needs at least {d + 1} samples, got {n}"
        )
    i = torch.arange(1, d + 1, dtype=torch.float64)
    correction = d * math.log(2 / m) + torch.special.digamma((m - i + 1) / 2).sum()
    return torch.linalg.slogdet(cov.to(torch.float64)).logabsdet - correction
