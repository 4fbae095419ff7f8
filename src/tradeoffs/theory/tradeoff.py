"""Closed-form tradeoff curves (MATH.md §2).

Freirich, Michaeli & Meir (2021), perception P = W2(p_X, p_X̂) and total MSE:
    D(P) = D* + [(P* − P)₊]²;   minimising MSE + λ·W2 gives P(λ) = (P* − λ/2)₊, MSE + λ·W2² gives P(λ) = P*/(1 + λ).
Cohen et al. (2024), Rényi-½ perception P in dimension d:
    η(P; d) = 2e^{2P/d} − sqrt((2e^{2P/d} − 1)² − 1)  (η(0) = 2, η(∞) = 1),   U(P) = η(P; d)·N(X|Y) for Gaussians.
Averaging k posterior samples: MSE = D*(1 + 1/k).
"""

import numpy as np


def distortion_perception(perception, mmse: float, perfect_perception_distance: float):
    """D(P) = D* + ((P* − P)₊)², elementwise on floats or arrays (P = W2 distance, D = total MSE)."""
    gap = np.maximum(perfect_perception_distance - np.asarray(perception, dtype=float), 0.0)
    return mmse + gap**2


def perception_response_w2(adv_weight, perfect_perception_distance: float):
    """P(λ) for the Lagrangian MSE + λ·W2: (P* − λ/2)₊."""
    return np.maximum(perfect_perception_distance - np.asarray(adv_weight, dtype=float) / 2, 0.0)


def perception_response_w2_squared(adv_weight, perfect_perception_distance: float):
    """P(λ) for the Lagrangian MSE + λ·W2²: P*/(1 + λ)."""
    return perfect_perception_distance / (1 + np.asarray(adv_weight, dtype=float))


def eta(perception, dim: int):
    """η(P; d) = 2e^{2P/d} − sqrt((2e^{2P/d} − 1)² − 1): the cost factor of perceptual quality P (Rényi-½),
    evaluated in the equivalent overflow-free form 2 / (1 + sqrt(1 − e^{−2P/d}))."""
    return 2 / (1 + np.sqrt(-np.expm1(-2 * np.asarray(perception, dtype=float) / dim)))


def uncertainty_perception(perception, dim: int, inherent_uncertainty: float):
    """U(P) = η(P; d)·N(X|Y), exact for jointly Gaussian (X, Y); η·N(X|Y) ≤ U(P) ≤ η·N(X_G|Y) in general."""
    return eta(perception, dim) * inherent_uncertainty


def k_average_mse(mmse: float, k):
    """MSE of the mean of k posterior samples: D*(1 + 1/k)."""
    return mmse * (1 + 1 / np.asarray(k, dtype=float))


def k_average_perception(k):
    """Conditional Rényi-½ divergence of the mean of k posterior samples in scalar Gaussian denoising (d = 1):
    P_k = ln((k + 1)/(2√k)), where η(P_k; 1) = 1 + 1/k."""
    k = np.asarray(k, dtype=float)
    return np.log((k + 1) / (2 * np.sqrt(k)))


__all__ = [
    "distortion_perception",
    "eta",
    "k_average_mse",
    "k_average_perception",
    "perception_response_w2",
    "perception_response_w2_squared",
    "uncertainty_perception",
]
