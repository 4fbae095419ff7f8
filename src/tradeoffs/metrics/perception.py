"""Perception: divergences between the distributions of clean and restored images in a feature space (lower is
better). Streaming torchmetrics wrappers of `tradeoffs.metrics.functional` (`update(real, fake)` with features),
and the engine's measures built on them."""

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.functional import (
    feature_sums,
    frechet_distance,
    gaussian_fit,
    kernel_inception_distance,
    renyi_divergence_gaussian,
    sliced_wasserstein,
)
from tradeoffs.metrics.measure import Batch, Key, Measure, Spec


class GaussianFitDivergences(Metric):
    """Fréchet distance (W2² of the Gaussian fits) and Rényi-½ divergence, from streamed float64 sums.

    Rényi needs positive-definite fits, so more samples than dimensions; with fewer it is omitted (the Fréchet
    distance stays exact).
    """

    full_state_update = False

    def __init__(self, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, real: Tensor, fake: Tensor) -> None:
        for side, features in (("real", real), ("fake", fake)):
            total, outer, n = feature_sums(features)
            setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + total)
            setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + outer)
            setattr(self, f"{side}_n", getattr(self, f"{side}_n") + n)

    def compute(self) -> dict[str, Tensor]:
        real = gaussian_fit(self.real_sum, self.real_outer, int(self.real_n))
        fake = gaussian_fit(self.fake_sum, self.fake_outer, int(self.fake_n))
        out = {"fd": frechet_distance(*real, *fake)}
        if min(int(self.real_n), int(self.fake_n)) > self.real_sum.shape[0]:
            out["renyi"] = renyi_divergence_gaussian(*real, *fake, alpha=0.5)
        return out


class SampleDivergences(Metric):
    """KID (unbiased cubic-kernel MMD², mean over subsets) and sliced W2, on the stored features (seeded)."""

    full_state_update = False

    def __init__(
        self, kid_subsets: int = 50, kid_subset_size: int = 1000, projections: int = 256, seed: int = 0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.kid_subsets, self.kid_subset_size, self.projections, self.seed = (
            kid_subsets,
            kid_subset_size,
            projections,
            seed,
        )
        self.add_state("real", [], dist_reduce_fx="cat")
        self.add_state("fake", [], dist_reduce_fx="cat")

    def update(self, real: Tensor, fake: Tensor) -> None:
        self.real.append(real.detach().to(torch.float64))
        self.fake.append(fake.detach().to(torch.float64))

    def compute(self) -> dict[str, Tensor]:
        real, fake = dim_zero_cat(self.real).cpu(), dim_zero_cat(self.fake).cpu()
        kid, kid_std = kernel_inception_distance(
            real, fake, self.kid_subsets, self.kid_subset_size, generator=generator_for(self.seed, 0x41D)
        )
        swd = sliced_wasserstein(real, fake, self.projections, generator=generator_for(self.seed, 0x5D))
        return {"kid": kid, "kid_std": kid_std, "swd": swd}


class FrechetRenyi(nn.Module, Measure):
    """`fd` (Fréchet distance) and `renyi` (Rényi-½) between the Gaussian fits of the reference and restored
    features, with their floors."""

    keys = {"fd": Key("perception", floor=True), "renyi": Key("perception", floor=True)}

    def prepare(self, spec: Spec) -> None:
        self.metric = GaussianFitDivergences(spec.features.dim)

    def update(self, batch: Batch) -> None:
        self.metric.update(batch.real_features, batch.fake_features)

    def compute(self) -> dict[str, Tensor]:
        return self.metric.compute()


class KernelAndSliced(nn.Module, Measure):
    """`kid` (+ `kid_std` over its subsets) and `swd` (sliced W2) on the stored features, with their floors."""

    keys = {
        "kid": Key("perception", floor=True),
        "kid_std": Key("perception"),
        "swd": Key("perception", floor=True),
    }

    def __init__(self, kid_subsets: int = 20, kid_subset_size: int = 1000, projections: int = 256, seed: int = 0):
        super().__init__()
        self.metric = SampleDivergences(kid_subsets, kid_subset_size, projections, seed)

    def update(self, batch: Batch) -> None:
        self.metric.update(batch.real_features, batch.fake_features)

    def compute(self) -> dict[str, Tensor]:
        return self.metric.compute()
