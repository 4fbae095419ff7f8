"""The measurement engine: the list of measures of `conf/metrics` (one `_target_` each, the interface in
`metrics.measure`) fed tensors; no Lightning inside. `conf/metrics` instantiates this class.

Of a split's pairs, `num_images` (chosen once by `seed`) are restored K = `num_samples` times and measured; the next
`num_images` are the reference set B that perception compares with (unpaired) and that the floors use (`subset`).
Floors: measures with floor keys are also fed x̂ = x (the clean inputs A against the reference set B): the value of
a perfect restorer, computed once per stage and cached, as are the features of the fixed reference set.
Logged names: `{stage}/{axis}/{name}` and `{stage}/{axis}/{name}_floor`.
"""

import copy
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from tradeoffs.core.errors import ConfigError, EstimatorInputError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.features import feature_space
from tradeoffs.metrics.measure import Batch, BatchOfSamples, Key, Measure, Measured, Spec
from tradeoffs.metrics.protocol import MeasuredRestorer, check_restorer

_SAMPLES_STREAM, _MAPS_STREAM, _SUBSET_STREAM = 0x3E, 0x3F, 0x5E7


class Subset(NamedTuple):
    """What one stage measures: the clean inputs x, their observations y (None for restorations made elsewhere) and
    the reference set (None: perception compares with x itself, and there are no floors)."""

    x: Tensor
    y: Tensor | None
    reference: Tensor | None


class MeasurementEngine:
    """`prepare(...)` once, then `measure(restorer, x, y, reference)` or `run(batches, ...)` per evaluation."""

    def __init__(
        self,
        measures: Mapping[str, Measure | None] | Iterable[Measure],
        num_images: int = 32,
        num_samples: int = 4,
        patch_size: int = 4,
        features: str = "patches",
        batch_size: int = 16,
        seed: int = 0,
        y_channel: bool = False,
        crop_border: int | None = None,
        feature_model: str | None = None,
        feature_weights: str | None = None,
        feature_download: bool = False,
    ) -> None:
        if num_images < 2:
            raise ConfigError(f"metrics.num_images={num_images} must be >= 2")
        if num_samples < 1 or patch_size < 1 or batch_size < 1:
            raise ConfigError(
                f"metrics.num_samples={num_samples}, metrics.patch_size={patch_size} and "
                f"metrics.batch_size={batch_size} must be >= 1"
            )
        items = measures.items() if isinstance(measures, Mapping) else enumerate(measures)
        self.measures = {str(name): m for name, m in items if m is not None}
        for name, measure in self.measures.items():
            if not isinstance(measure, Measure):
                raise ConfigError(f"metrics.measures.{name} is a {type(measure).__name__}, not a Measure")
        self.num_images, self.num_samples, self.patch_size = num_images, num_samples, patch_size
        self.features_name, self.feature_options = features, (feature_model, feature_weights, bool(feature_download))
        self.batch_size, self.seed, self.y_channel, self.crop_border = batch_size, seed, bool(y_channel), crop_border
        self.features: nn.Module | None = None
        self._reference_features: dict[str, tuple[Tensor, list[Tensor]]] = {}
        self._floors: dict[str, tuple[Tensor, Tensor, dict[str, float]]] = {}

    def subset(self, pairs, split: str = "val") -> Subset:
        """The measured pairs of `pairs` (any object with `.x`, `.y` and a length) and the clean reference set B
        (None, with a warning, without room for it); ConfigError if there are fewer than `num_images` pairs."""
        if self.num_images > len(pairs):
            where = (
                "validation images (data.source.num_val)" if split == "val" else "test images (data.source.test_root)"
            )
            raise ConfigError(f"metrics.num_images={self.num_images} exceeds the {len(pairs)} {where}")
        order = torch.randperm(len(pairs), generator=generator_for(self.seed, _SUBSET_STREAM))
        chosen, reference = order[: self.num_images], order[self.num_images : 2 * self.num_images]
        if len(reference) < self.num_images:
            warnings.warn(
                f"perception floors skipped: they need 2 × metrics.num_images = {2 * self.num_images} {split} "
                f"images, there are {len(pairs)}",
                stacklevel=2,
            )
            return Subset(pairs.x[chosen], pairs.y[chosen], None)
        return Subset(pairs.x[chosen], pairs.y[chosen], pairs.x[reference])

    def prepare(self, channels: int, height: int, width: int, num_images: int | None = None, scale: int = 1) -> None:
        """Check every measure against the images it will see (`num_images` of them, default `self.num_images`;
        `scale`: the super-resolution factor); skipped measures are warned about once."""
        num_images = self.num_images if num_images is None else num_images
        if self.patch_size > min(height, width):
            raise ConfigError(
                f"metrics.patch_size={self.patch_size} is larger than the {height}x{width} validation images"
            )
        self.features = feature_space(self.features_name, channels, self.patch_size, self.seed, *self.feature_options)
        if min(height, width) < getattr(self.features, "min_size", 1):
            raise ConfigError(
                f"metrics.features={self.features_name} needs images of at least {self.features.min_size} px, "
                f"the validation images are {height}x{width}: use metrics.features=patches"
            )
        border = self.crop_border if self.crop_border is not None else (scale if self.y_channel and scale > 1 else 0)
        if border < 0 or 2 * border >= min(height, width):
            raise ConfigError(f"metrics.crop_border={border} leaves nothing of the {height}x{width} images")
        spec = Spec(
            channels,
            height,
            width,
            num_images,
            self.num_samples,
            self.patch_size,
            self.features,
            scale,
            self.y_channel,
            border,
        )
        skipped: dict[str, list[str]] = {}
        for name, measure in list(self.measures.items()):
            if (reason := measure.prepare(spec)) is not None:
                skipped.setdefault(reason, []).extend(measure.keys)
                del self.measures[name]
        skipped.pop("", None)  # switched off by its own setting: no warning
        for reason, names in skipped.items():
            warnings.warn(f"{', '.join(names)} skipped: {reason}", stacklevel=2)
        for measure in self.measures.values():
            unsynced(measure)
        self.floor_measures = {
            name: copy.deepcopy(m) for name, m in self.measures.items() if any(k.floor for k in m.keys.values())
        }

    def keys(self, stage: str) -> dict[str, Key]:
        """Every name the prepared engine logs for `stage`, with its axis and direction (floors included)."""
        out = {}
        for measure in self.measures.values():
            for name, key in measure.keys.items():
                out[f"{stage}/{key.axis}/{name}"] = key
                if key.floor:
                    out[f"{stage}/{key.axis}/{name}_floor"] = key
        return out

    def maximized(self, stage: str) -> list[str]:
        """The names among `keys(stage)` where higher is better (the run record lists them for the curve tool)."""
        return [name for name, key in self.keys(stage).items() if key.higher_is_better]

    # --- measurement -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def measure(
        self,
        restorer: MeasuredRestorer,
        x: Tensor,
        y: Tensor,
        reference: Tensor | None = None,
        stage: str = "val",
        epoch: int = 0,
    ) -> Measured:
        """Restore K samples of every y (seeded by the restorer's evaluation generator and the batch's first index)
        and measure them against x; perception compares with `reference` (else with x, and no floors)."""
        check_restorer(restorer)
        return self.run(self.restorations(restorer, x, y), x, reference, stage, epoch, restorer.device)

    def restorations(self, restorer: MeasuredRestorer, x: Tensor, y: Tensor) -> Iterator[BatchOfSamples]:
        """The batches `measure` feeds: K samples of each y in batches of `batch_size`, drawn with the restorer's
        evaluation generator keyed by the batch's first index (what an export of the measured samples reads)."""
        device = restorer.device
        for start in range(0, len(x), self.batch_size):
            xb, yb = x[start : start + self.batch_size].to(device), y[start : start + self.batch_size].to(device)
            generator = restorer.eval_generator(_SAMPLES_STREAM, start)
            samples = restorer.restore(yb, self.num_samples, generator=generator)
            maps = restorer.auxiliary_maps(yb, generator=restorer.eval_generator(_MAPS_STREAM, start))
            yield xb, yb, restorer.degradation.lift(yb)[:, : x.shape[1]], samples, maps

    @torch.no_grad()
    def run(
        self,
        batches: Iterable[BatchOfSamples],
        x: Tensor,
        reference: Tensor | None = None,
        stage: str = "val",
        epoch: int = 0,
        device: torch.device | str = "cpu",
    ) -> Measured:
        """Measure given samples: `batches` yields (x, y, the observation in image space, samples, maps) in the
        order and batch size of x (so the reference features line up)."""
        if self.features is None:
            raise RuntimeError("MeasurementEngine.prepare must run before measuring")
        active = {name: m for name, m in self.measures.items() if m.due(epoch)}
        for measure in active.values():
            measure.reset()
            measure.to(device)
        self.features.to(device)
        images = x if reference is None else reference
        real = self.reference_features(stage, images, device)
        first = None
        for index, (xb, yb, observed, samples, maps) in enumerate(batches):
            start = index * self.batch_size
            ref = images[start : start + self.batch_size].to(device)
            batch = Batch(xb, yb, samples, self.features, real[index].to(device), maps, ref)
            for measure in active.values():
                measure.update(batch)
            if first is None:
                first = (xb.cpu(), observed.cpu(), samples.cpu(), {k: v.cpu() for k, v in maps.items()})
        values = named_values(active.values(), stage)
        if reference is not None:
            values |= self.floors(stage, x, reference, device)
        return Measured(stage, epoch, values, *first)

    def reference_features(self, stage: str, reference: Tensor, device: torch.device | str) -> list[Tensor]:
        """Features of the reference images, batch by batch: computed once per stage, kept while the set is the
        same (the `reset_real_features=False` idea of torchmetrics)."""
        cached = self._reference_features.get(stage)
        if cached is None or cached[0].shape != reference.shape or not torch.equal(cached[0], reference):
            feats = [
                self.features(reference[s : s + self.batch_size].to(device)).cpu()
                for s in range(0, len(reference), self.batch_size)
            ]
            cached = self._reference_features[stage] = (reference, feats)
        return cached[1]

    def floors(self, stage: str, x: Tensor, reference: Tensor, device: torch.device | str) -> dict[str, float]:
        """Each floor key of the measures fed x̂ = x (clean A against reference B), once per stage and sets."""
        cached = self._floors.get(stage)
        if cached is not None and torch.equal(cached[0], x) and torch.equal(cached[1], reference):
            return cached[2]
        real = self.reference_features(stage, reference, device)
        for measure in self.floor_measures.values():
            measure.reset()
            measure.to(device)
        for index, start in enumerate(range(0, len(x), self.batch_size)):
            clean, ref = (t[start : start + self.batch_size].to(device) for t in (x, reference))
            batch = Batch(clean, None, clean.unsqueeze(1), self.features, real[index].to(device), reference=ref)
            for measure in self.floor_measures.values():
                measure.update(batch)
        values = named_values(self.floor_measures.values(), stage, floors=True)
        self._floors[stage] = (x, reference, values)
        return values


def unsynced(measure: Measure) -> None:
    """The engine measures in one process (under DDP, the global-zero one): its torchmetrics states must not wait
    for the other processes' at compute(), which would deadlock, or add their copies, which would count twice."""
    for module in measure.modules():
        if isinstance(module, Metric):
            module.sync_on_compute = module._to_sync = False


def named_values(measures: Iterable[Measure], stage: str, floors: bool = False) -> dict[str, float]:
    """compute() of every measure as `{stage}/{axis}/{name}` floats (with `floors`: only the floor keys, named
    `{name}_floor`); a name a measure did not declare is an error, and a covariance too ill-conditioned to
    factorise (too few images for the features) an EstimatorInputError naming the measure."""
    values = {}
    for measure in measures:
        try:
            computed = measure.compute()
        except torch.linalg.LinAlgError as error:
            raise EstimatorInputError(
                f"{stage}: {type(measure).__name__} cannot factorise its feature covariance"
                f" ({str(error).split(':')[0]}):"
                " too few measured images for the feature dimension; raise metrics.num_images or use smaller features"
            ) from None
        for name, value in computed.items():
            if name not in measure.keys:
                raise KeyError(f"{type(measure).__name__} computed {name!r}, which it does not declare in keys")
            key = measure.keys[name]
            if not floors:
                values[f"{stage}/{key.axis}/{name}"] = float(value)
            elif key.floor:
                values[f"{stage}/{key.axis}/{name}_floor"] = float(value)
    return values
