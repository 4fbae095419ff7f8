"""What a metric is, as the engine sees it: the interface every entry of `conf/metrics` implements.

A `Measure` declares `keys` (each value it computes, with its axis distortion | perception | uncertainty, whether
higher is better and whether it has a floor), checks its settings once in `prepare(spec)` (ConfigError, or the
reason it is skipped, e.g. K = 1 for the K-sample estimates), then takes `update(batch)` for every batch of inputs
and returns `compute()` -> {name: value}. A `Batch` holds the clean x (B, C, H, W), the observation y, the K samples
(B, K, C, H, W), the reference images of the same batch index and their features, and the restorer's auxiliary
maps; derived tensors (first sample, mean of K, features) are computed once per batch and shared by every measure.
A `Measured` is what one measurement hands to its listeners (panels, tables).
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from torch import Tensor, nn
from torchmetrics import Metric

AXES = ("distortion", "perception", "uncertainty")


@dataclass(frozen=True)
class Key:
    axis: str
    higher_is_better: bool = False
    floor: bool = False  # also measured for x̂ = x and reported as `{name}_floor`


@dataclass(frozen=True)
class Spec:
    """What a measure may check in `prepare`: image size, subset size, K, patch size and the feature space."""

    channels: int
    height: int
    width: int
    num_images: int
    num_samples: int
    patch_size: int
    features: nn.Module
    scale: int = 1  # image side / observation side: the super-resolution factor, 1 for other degradations
    y_channel: bool = False  # distortion on BT.601 luma (metrics.y_channel)
    crop_border: int = 0  # pixels removed on each side before distortion (metrics.crop_border, resolved)


class Batch:
    """One batch of inputs as every measure sees it; derived tensors are computed on first use."""

    def __init__(
        self,
        x: Tensor,
        y: Tensor | None,
        samples: Tensor,
        features: nn.Module,
        real_features: Tensor,
        maps: Mapping[str, Tensor] | None = None,
        reference: Tensor | None = None,
    ) -> None:
        self.x, self.y, self.samples, self.real_features = x, y, samples, real_features
        self.maps, self._features, self.reference = dict(maps or {}), features, reference

    @cached_property
    def first(self) -> Tensor:
        """The one sample per input that perception and the `_subset` distortion see."""
        return self.samples[:, 0].contiguous()

    @cached_property
    def mean_k(self) -> Tensor:
        return self.samples.mean(dim=1)

    @cached_property
    def fake_features(self) -> Tensor:
        return self._features(self.first)


class Measure(ABC):
    """One entry of the metrics list. Subclasses are `nn.Module`s (moved to the restorer's device) and declare
    `keys`; torchmetrics metrics inside them hold the streamed state."""

    keys: dict[str, Key]
    every_n_epochs: int = 1  # 0: never during training (e.g. the post-hoc critic, switched on by evaluate)

    def prepare(self, spec: Spec) -> str | None:
        """Check the settings (ConfigError) and build what depends on them; a returned string skips the measure
        with that reason as a warning ("" skips it silently)."""
        return None

    @abstractmethod
    def update(self, batch: Batch) -> None: ...

    @abstractmethod
    def compute(self) -> dict[str, Tensor]: ...

    def reset(self) -> None:
        for module in self.modules():
            if isinstance(module, Metric):
                module.reset()

    def due(self, epoch: int) -> bool:
        return self.every_n_epochs > 0 and (epoch + 1) % self.every_n_epochs == 0


@dataclass
class Measured:
    """One measurement: the named values, and for the first batch of inputs (what panels show) the clean images,
    the observations in image space, the K samples and the auxiliary maps, on the CPU."""

    stage: str
    epoch: int
    values: dict[str, float]
    x: Tensor
    observed: Tensor
    samples: Tensor
    maps: dict[str, Tensor] = field(default_factory=dict)
    step: int = 0  # the training step it was measured at (0 outside training)


BatchOfSamples = tuple[Tensor, Tensor | None, Tensor, Tensor, dict[str, Tensor]]  # (x, y, observed, samples, maps)
