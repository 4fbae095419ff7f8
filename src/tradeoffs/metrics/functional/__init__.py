"""Pure tensor estimators of perception and uncertainty (float64 for covariances, log-dets, eigen-decompositions)."""

from tradeoffs.core.gaussian import (
    feature_sums,
    frechet_distance,
    frechet_distance_features,
    gaussian_entropy_power,
    gaussian_fit,
    gaussian_kl,
    gaussian_transport_map,
    logdet_unbiased,
    renyi_divergence_gaussian,
    sqrtm_psd,
)
from tradeoffs.metrics.functional.samples import kernel_inception_distance, sliced_wasserstein
from tradeoffs.metrics.functional.uncertainty import (
    check_finite,
    check_pooled_sample_size,
    check_spread_sample_size,
    conditional_spread_entropy_power,
    image_patches,
    mse_k_decomposition,
    pooled_entropy_power_bound,
    pooled_error_entropy_power,
    spread_log_entropy_powers,
)

__all__ = [
    "check_finite",
    "check_pooled_sample_size",
    "check_spread_sample_size",
    "conditional_spread_entropy_power",
    "feature_sums",
    "frechet_distance",
    "frechet_distance_features",
    "gaussian_entropy_power",
    "gaussian_fit",
    "gaussian_kl",
    "gaussian_transport_map",
    "image_patches",
    "kernel_inception_distance",
    "logdet_unbiased",
    "mse_k_decomposition",
    "pooled_entropy_power_bound",
    "pooled_error_entropy_power",
    "renyi_divergence_gaussian",
    "sliced_wasserstein",
    "spread_log_entropy_powers",
    "sqrtm_psd",
]
