"""The one way a restorer is measured, with or without a Lightning trainer around it.

`measure` restores the engine's subset (or takes restorations made elsewhere, e.g. folders of outputs), adds the
closed forms of the task and hands the `Measured` to each listener (panels, the epoch table). The Lightning callback
calls it at every validation epoch; evaluate, traverse, baselines, wrap and evaluate_outputs call it once, with
`split_distortion` in place of the trainer's validation loop: the one-sample MSE/PSNR/SSIM of every pair of the
split, drawn exactly as `Restorer.validation_step` draws them.
"""

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from tradeoffs.metrics.distortion import distortion_metrics
from tradeoffs.metrics.engine import MeasurementEngine, Subset
from tradeoffs.metrics.measure import BatchOfSamples, Measured
from tradeoffs.metrics.protocol import MeasuredRestorer
from tradeoffs.theory.gaussian import denoising_theory

CLOSED_FORMS = ("uncertainty/inherent", "distortion/mmse")

Listener = Callable[[Measured], None]


def measure(
    engine: MeasurementEngine,
    subset: Subset,
    stage: str,
    restorer: MeasuredRestorer | None = None,
    restorations: Iterable[BatchOfSamples] | None = None,
    epoch: int = 0,
    step: int = 0,
    closed_forms: dict[str, float] | None = None,
    listeners: Iterable[Listener] = (),
) -> Measured:
    """Measure `restorer` on the subset (or the given `restorations` of subset.x, in order), add
    `{stage}/{closed form}` values and notify every listener."""
    if restorer is not None:
        measured = engine.measure(restorer, subset.x, subset.y, subset.reference, stage, epoch)
    else:
        measured = engine.run(restorations, subset.x, subset.reference, stage, epoch)
    measured.values |= {f"{stage}/{key}": value for key, value in (closed_forms or {}).items()}
    measured.step = step
    for listener in listeners:
        listener(measured)
    return measured


def prepared_subset(engine: MeasurementEngine, pairs, split: str) -> Subset:
    """The engine's subset of a split's pairs, with the engine prepared for its images (the super-resolution factor
    read off the sizes of x and y): every check that can fail runs here, before anything is restored."""
    subset = engine.subset(pairs, split)
    scale = max(1, subset.x.shape[-1] // subset.y.shape[-1])
    engine.prepare(*subset.x.shape[1:], scale=scale)
    return subset


def is_constant(name: str) -> bool:
    """A value that no epoch changes: a real-vs-real floor or a closed form of the data."""
    return name.endswith("_floor") or name.split("/", 1)[-1] in CLOSED_FORMS


def gaussian_closed_forms(source, degradation) -> dict[str, float]:
    """N(X|Y) and the per-pixel MMSE for fixed-σ denoising of the `gaussian` source; {} otherwise."""
    theory = denoising_theory(source, degradation)
    if theory is None:
        return {}
    return dict(zip(CLOSED_FORMS, (theory.inherent_uncertainty, theory.mmse / theory.dim), strict=True))


def first_restoration(restorer: MeasuredRestorer, y: Tensor, batch_index: int) -> Tensor:
    """One restoration of each y of the split's batch `batch_index`, drawn with the restorer's evaluation generator
    keyed by that index (what `validation_step` restores)."""
    return restorer.restore(y, 1, generator=restorer.eval_generator(batch_index))[:, 0]


@torch.no_grad()
def split_distortion(
    restorer: MeasuredRestorer, x: Tensor, y: Tensor, batch_size: int, stage: str
) -> tuple[dict[str, Tensor], list[str]]:
    """({stage}/distortion/{mse, psnr, ssim}: the whole split's one-sample distortion in the split's batches of
    `batch_size`, the names where higher is better)."""
    metrics = distortion_metrics(f"{stage}/distortion/", min(x.shape[-2:])).to(restorer.device)
    for index, start in enumerate(range(0, len(x), batch_size)):
        yb = y[start : start + batch_size].to(restorer.device)
        metrics.update(first_restoration(restorer, yb, index), x[start : start + batch_size].to(restorer.device))
    maximized = [name for name, metric in metrics.items(keep_base=False) if metric.higher_is_better]
    return metrics.compute(), maximized
