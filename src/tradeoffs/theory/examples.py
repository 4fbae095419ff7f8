"""The scalar examples of MATH.md §4 whose risks need integration rather than linear algebra.

Blau & Michaeli (2018), Example 1: X ~ N(0, 1), Y = X + N, N ~ N(0, σ²), estimators X̂ = aY.
Discrete prior: X ∈ {−1, 0, 1} with p(0) = 0.2, p(±1) = 0.4, Y = X + N(0, 1).
"""

import math

import numpy as np
from scipy import integrate, stats

PRIOR = {-1.0: 0.4, 0.0: 0.2, 1.0: 0.4}


def linear_estimator_risks(a: float, noise_std: float) -> tuple[float, float]:
    """(MSE, KL(p_X ‖ p_X̂)) of X̂ = aY: E(X − aY)² = 1 − 2a + a²(1 + σ²), X̂ ~ N(0, a²(1 + σ²))."""
    var = a**2 * (1 + noise_std**2)
    mse = 1 - 2 * a + var
    kl = 0.5 * (1 / var - 1 + math.log(var))
    return mse, kl


def linear_estimator_curve(noise_std: float, num: int = 50) -> dict[str, np.ndarray]:
    """The perception–distortion curve of Example 1, from the MMSE a* = 1/(1 + σ²) to the perfect-perception
    a₀ = 1/sqrt(1 + σ²)."""
    a = np.linspace(1 / (1 + noise_std**2), 1 / math.sqrt(1 + noise_std**2), num)
    mse, kl = np.array([linear_estimator_risks(v, noise_std) for v in a]).T
    return {"a": a, "mse": mse, "kl": kl}


def _likelihoods(y: float) -> dict[float, float]:
    return {x: p * stats.norm.pdf(y - x) for x, p in PRIOR.items()}


def discrete_posterior_mean(y: float) -> float:
    """x̂_MMSE(y) = Σ x p(x|y)."""
    weights = _likelihoods(y)
    return sum(x * w for x, w in weights.items()) / sum(weights.values())


def _risk(estimator) -> float:
    """E(X − x̂(Y))² by integration over y for each value of X."""
    return sum(
        p * integrate.quad(lambda y, x=x: (x - estimator(y)) ** 2 * stats.norm.pdf(y - x), -12, 12, limit=200)[0]
        for x, p in PRIOR.items()
    )


def discrete_example_risks() -> dict[str, float]:
    """MMSE, posterior-sampler MSE (2·MMSE), MAP (= sign(y)) MSE and random-draw MSE (2·Var X) of the discrete prior."""
    mmse = _risk(discrete_posterior_mean)
    variance = sum(p * x**2 for x, p in PRIOR.items())
    return {"mmse": mmse, "posterior_sampler": 2 * mmse, "map": _risk(np.sign), "random_draw": 2 * variance}
