"""Uncertainty metrics (Cohen et al. 2024), streaming over validation batches; all values per pixel.

- `PooledErrorUncertainty`: U1, the pooled error-patch upper bound on N(X̂ − X | Y), and its trace bound.
- `ConditionalSpread`: U2, geometric mean over inputs of the entropy power of the K samples' spread.
- `SampleAveraging`: U3, MSE_k = a + b/k for the mean of k samples, and the mean per-pixel std across samples.
The engine's measures (`PooledErrors`, `Spread`, `Averaging`, `MapMean`) feed them from a `Batch`.
"""

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric

from tradeoffs.core.errors import ConfigError, EstimatorInputError
from tradeoffs.metrics.distortion import NEEDS_K
from tradeoffs.metrics.functional import (
    check_finite,
    check_pooled_sample_size,
    check_spread_sample_size,
    feature_sums,
    image_patches,
    pooled_entropy_power_bound,
    spread_log_entropy_powers,
)
from tradeoffs.metrics.measure import Batch, Key, Measure, Spec


class PooledErrorUncertainty(Metric):
    """update(samples (B, K, C, H, W), x (B, C, H, W)): pools the patches of every sample's error x̂ − x.

    compute(): U1 ≤ trace bound ≤ per-pixel MSE of the pooled errors (returned as `mse`), exactly, on any input."""

    full_state_update = False

    def __init__(self, channels: int, patch_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.patch_size, dim = patch_size, channels * patch_size**2
        self.add_state("total", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, samples: Tensor, x: Tensor) -> None:
        errors = (samples - x.unsqueeze(1)).flatten(0, 1)
        check_finite("the restorations", errors)
        total, outer, n = feature_sums(image_patches(errors, self.patch_size))
        self.total, self.outer, self.n = self.total + total, self.outer + outer, self.n + n

    def compute(self) -> dict[str, Tensor]:
        pooled, trace = pooled_entropy_power_bound(self.total, self.outer, int(self.n))
        mse = self.outer.trace() / (self.n * self.total.shape[0])  # per-pixel MSE of the pooled errors
        return {"pooled": pooled, "pooled_trace": trace, "mse": mse}


class ConditionalSpread(Metric):
    """update(samples (B, K, C, H, W)) with K ≥ 2; compute() = exp(mean over inputs of (1/d) ln det S_spread)."""

    full_state_update = False

    def __init__(self, patch_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.add_state("log_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, samples: Tensor) -> None:
        logs = spread_log_entropy_powers(samples, self.patch_size)
        self.log_sum, self.count = self.log_sum + logs.sum(), self.count + logs.numel()

    def compute(self) -> dict[str, Tensor]:
        return {"spread": torch.exp(self.log_sum / self.count)}


class SampleAveraging(Metric):
    """update(samples (B, K, C, H, W), x) with K ≥ 2: per-pixel b = E var_K (ddof 1), a = MSE(x̄_K, x) − b/K,
    and pixel_std = mean per-pixel standard deviation across the K samples."""

    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("var_sum", "std_sum", "mean_sq_err_sum", "pixels", "samples_per_input"):
            dtype = torch.long if name in ("pixels", "samples_per_input") else torch.float64
            self.add_state(
                name, torch.zeros((), dtype=dtype), dist_reduce_fx="sum" if name != "samples_per_input" else "max"
            )

    def update(self, samples: Tensor, x: Tensor) -> None:
        check_finite("the restorations", samples)
        samples, x = samples.to(torch.float64), x.to(torch.float64)
        var = samples.var(dim=1, correction=1)
        self.var_sum = self.var_sum + var.sum()
        self.std_sum = self.std_sum + var.sqrt().sum()
        self.mean_sq_err_sum = self.mean_sq_err_sum + (samples.mean(dim=1) - x).square().sum()
        self.pixels = self.pixels + var.numel()
        self.samples_per_input = torch.maximum(
            self.samples_per_input, self.samples_per_input.new_tensor(samples.shape[1])
        )

    def compute(self) -> dict[str, Tensor]:
        b = self.var_sum / self.pixels
        a = self.mean_sq_err_sum / self.pixels - b / self.samples_per_input
        return {"mse_k_a": a, "mse_k_b": b, "pixel_std": self.std_sum / self.pixels}


def patch_counts(spec: Spec) -> tuple[int, int]:
    """(patches per image, patch dimension d = C·p²)."""
    p = spec.patch_size
    return (spec.height // p) * (spec.width // p), spec.channels * p * p


class PooledErrors(nn.Module, Measure):
    """U1: `pooled`, `pooled_trace` and `mse` over the error patches of all K samples of all inputs."""

    keys = {"pooled": Key("uncertainty"), "pooled_trace": Key("uncertainty"), "mse": Key("uncertainty")}

    def prepare(self, spec: Spec) -> None:
        positions, d = patch_counts(spec)
        n, k = spec.num_images, spec.num_samples
        try:
            check_pooled_sample_size(n * k * positions, d)
        except EstimatorInputError as error:
            raise ConfigError(f"{error} ({n} images × {k} samples × {positions} patches)") from None
        self.metric = PooledErrorUncertainty(spec.channels, spec.patch_size)

    def update(self, batch: Batch) -> None:
        self.metric.update(batch.samples, batch.x)

    def compute(self) -> dict[str, Tensor]:
        return self.metric.compute()


class Spread(nn.Module, Measure):
    """U2: `spread`, the geometric mean over inputs of the entropy power of the spread of their K samples."""

    keys = {"spread": Key("uncertainty")}

    def prepare(self, spec: Spec) -> str | None:
        if spec.num_samples < 2:
            return NEEDS_K
        positions, d = patch_counts(spec)
        try:
            check_spread_sample_size(positions * (spec.num_samples - 1), d)
        except EstimatorInputError as error:
            return str(error)
        self.metric = ConditionalSpread(spec.patch_size)
        return None

    def update(self, batch: Batch) -> None:
        self.metric.update(batch.samples)

    def compute(self) -> dict[str, Tensor]:
        return self.metric.compute()


class Averaging(nn.Module, Measure):
    """U3: `mse_k_a`, `mse_k_b` (MSE_k = a + b/k for the mean of k samples) and `pixel_std`."""

    keys = {"mse_k_a": Key("uncertainty"), "mse_k_b": Key("uncertainty"), "pixel_std": Key("uncertainty")}

    def __init__(self) -> None:
        super().__init__()
        self.metric = SampleAveraging()

    def prepare(self, spec: Spec) -> str | None:
        return NEEDS_K if spec.num_samples < 2 else None

    def update(self, batch: Batch) -> None:
        self.metric.update(batch.samples, batch.x)

    def compute(self) -> dict[str, Tensor]:
        return self.metric.compute()


class MapMean(nn.Module, Measure):
    """The mean of a restorer's auxiliary map `name` (e.g. a fusion restorer's hallucination map φ ∈ [0, 1]);
    nothing is reported for restorers without that map."""

    def __init__(self, name: str = "hallucination") -> None:
        super().__init__()
        self.name, self.keys = name, {name: Key("uncertainty")}
        self.metric = MeanMetric()

    def update(self, batch: Batch) -> None:
        if self.name in batch.maps:
            self.metric.update(batch.maps[self.name].to(torch.float64))

    def compute(self) -> dict[str, Tensor]:
        return {self.name: self.metric.compute()} if self.metric.update_count else {}
