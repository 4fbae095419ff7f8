"""Uncertainty estimators (Cohen et al. 2024): entropy power of the restoration error, and its decomposition.

N(Z) = exp(2h(Z)/d)/(2πe). For any deterministic restorer N(X̂ − X | Y) equals the inherent uncertainty, so what
ranks restorers is an *upper bound* built from errors pooled over inputs (U1), beside the spread of the samples
for one input (U2) and the decomposition of the MSE of averaged samples (U3). All estimates are per pixel.
"""

import torch
from torch import Tensor

from tradeoffs.core.errors import EstimatorInputError
from tradeoffs.core.gaussian import feature_sums, gaussian_fit, logdet_unbiased
from tradeoffs.core.patches import image_patches


def check_finite(name: str, values: Tensor) -> None:
    if not torch.isfinite(values).all():
        raise EstimatorInputError(f"{name} hold NaN or infinite values; no metric is computed from them")


def check_pooled_sample_size(n: int, d: int) -> None:
    """U1 needs more error patches than dimensions (and ≥ 50·d for < 1% bias)."""
    if n <= d:
        raise EstimatorInputError(
            f"the pooled uncertainty bound in dimension d = C·p·p = {d} needs more than {d} error patches "
            f"(≥ {50 * d} for <1% bias), got {n}: use more metrics.num_images or a smaller metrics.patch_size"
        )


def check_spread_sample_size(m: int, d: int) -> None:
    """U2 needs P·(K − 1) ≥ d centred patches per input."""
    if m < d:
        raise EstimatorInputError(
            f"the conditional spread in dimension d = {d} needs P·(K − 1) ≥ {d} centred patches per input, got {m}: "
            "raise metrics.num_samples or lower metrics.patch_size"
        )


def pooled_entropy_power_bound(total: Tensor, outer: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """U1 and its trace bound from streamed sums of n error patches in R^d.

    U1 = exp((1/d)[ln det S − d ln(2/m) − Σ_i ψ((m − i + 1)/2)]), S the patch covariance (ddof 1), m = n − 1,
    clipped at the trace bound tr(S₀)/d (S₀ the ddof-0 covariance), which the true entropy power never exceeds
    (AM–GM) and which never exceeds the per-pixel MSE of the pooled pixels: U1 ≤ tr(S₀)/d ≤ MSE.
    """
    d = total.shape[0]
    check_pooled_sample_size(n, d)
    _, cov = gaussian_fit(total, outer, n, ddof=1)
    trace_bound = cov.trace() * (n - 1) / n / d
    return torch.minimum(torch.exp(logdet_unbiased(cov, n) / d), trace_bound), trace_bound


def pooled_error_entropy_power(errors: Tensor, patch_size: int) -> tuple[Tensor, Tensor]:
    """U1, the pooled error-patch bound on N(X̂ − X | Y), and its trace bound, from errors (..., C, H, W).

    Errors x̂ − x of all images and samples are cut into c×p×p patches and pooled (see
    `pooled_entropy_power_bound`). Keep p fixed across runs: U1 decreases toward the truth as p grows.
    """
    check_finite("the errors", errors)
    patches = image_patches(errors.reshape(-1, *errors.shape[-3:]), patch_size)
    return pooled_entropy_power_bound(*feature_sums(patches))


def spread_log_entropy_powers(samples: Tensor, patch_size: int) -> Tensor:
    """Per input, (1/d)·ln of the spread's entropy power: K centred samples (B, K, C, H, W) cut into P patches of
    dimension d and pooled, S = Σ ccᵀ / m with m = P(K − 1), ln det S corrected as in `logdet_unbiased`. Shape (B,)."""
    b, k = samples.shape[:2]
    if k < 2:
        raise EstimatorInputError(f"the conditional spread needs metrics.num_samples >= 2, got {k}")
    check_finite("the samples", samples)
    centred = (samples - samples.mean(dim=1, keepdim=True)).to(torch.float64)
    patches = image_patches(centred.flatten(0, 1), patch_size).view(b, -1, samples.shape[2] * patch_size**2)
    d, m = patches.shape[-1], (patches.shape[1] // k) * (k - 1)
    check_spread_sample_size(m, d)
    return logdet_unbiased(patches.transpose(1, 2) @ patches / m, m + 1) / d


def conditional_spread_entropy_power(samples: Tensor, patch_size: int) -> Tensor:
    """U2: entropy power of the spread of K ≥ 2 samples around their mean, geometric mean over inputs:
    exp(mean_b spread_log_entropy_powers). For a posterior sampler U2 estimates N(X | Y); by the entropy-power
    inequality N(X̂ − X | Y) ≥ U2 + N(X | Y)."""
    return torch.exp(spread_log_entropy_powers(samples, patch_size).mean())


def mse_k_decomposition(samples: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) with per-pixel MSE_k = a + b/k for the mean of k samples, from K ≥ 2 samples (B, K, C, H, W).

    b̂ = mean over inputs and pixels of the sample variance across K (ddof 1); â = MSE(x̄_K, x) − b̂/K.
    A posterior sampler has a = b = D*/d (the per-pixel MMSE).
    """
    k = samples.shape[1]
    if k < 2:
        raise EstimatorInputError(f"the MSE_k decomposition needs metrics.num_samples >= 2, got {k}")
    check_finite("the samples", samples)
    samples, x = samples.to(torch.float64), x.to(torch.float64)
    b = samples.var(dim=1, correction=1).mean()
    return (samples.mean(dim=1) - x).square().mean() - b / k, b
