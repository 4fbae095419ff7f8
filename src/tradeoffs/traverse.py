"""Traverse the tradeoff at test time, without retraining: `python -m tradeoffs.traverse traversal=NAME ckpt_path=CKPT`.

Each setting of the traversal becomes a job directory of this run's output dir (`k=4/`, `alpha=0.5/`,
`estimator=observation/`) with `.hydra/{config,overrides}.yaml` and `results.json`, so the output dir is a sweep the
curve tool reads beside λ sweeps: `tradeoffs-curve LAMBDA_SWEEP TRAVERSAL_DIR`. Finished settings are skipped: rerun
into the same `hydra.run.dir` to resume.

- `averaging`: the mean of k samples for each `traversal.k`, nested (every k averages the first k of the same
  max(k) draws per image); adds `val/distortion/mse_predicted` = a + b/k with
  (a, b) the MSE_k decomposition of the k = 1 setting, beside the measured per-pixel MSE `val/uncertainty/mse`.
- `interpolation`: (1 − α)·ckpt + α·mmse_ckpt for each `traversal.alpha`.
- `transport`: Deep-OT patch transport fitted on `traversal.fit_images` restored and as many clean training images,
  interpolated with the restorer by α.
- `references`: the observation g⁻¹(y), a random clean draw, the checkpoint itself (pass the λ = 0 run: the MMSE
  approximation) and, on the `gaussian` and `discrete` sources, the exact MMSE, MAP and posterior sampler.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from tradeoffs.assemble import CONFIG_DIR, device_for, evaluation_setup, measure_restorer, restorer_from_checkpoint
from tradeoffs.cli import run_job
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import RunRecord, measure_jobs, progress
from tradeoffs.data.datamodule import DegradedDraws, RestorationDataModule
from tradeoffs.models.reference import CleanDrawRestorer, ObservationRestorer, exact_posterior
from tradeoffs.models.restorer import Restorer, adversarial_weight
from tradeoffs.models.test_time import Interpolation, PatchTransport, SampleAverage, SampleBank
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()

Setting = tuple[str, list[str], Callable[[], Restorer]]  # (job name, its overrides, restorer factory)


@dataclass
class Traversed:
    """What a traversal starts from: the request, the checkpoint's evaluation config, its data and restorer."""

    cfg: DictConfig
    train_cfg: DictConfig
    datamodule: RestorationDataModule
    model: Restorer


def averaging(t: Traversed) -> Iterator[Setting]:
    ks = sorted(int(k) for k in t.cfg.traversal.k)
    bank = SampleBank(t.model, max(ks, default=1))  # nested means: k = 1, 2, 4, … average the first k of one set
    for k in ks:
        yield f"k={k}", [f"traversal.k={k}"], lambda k=k: SampleAverage(t.model, k, bank)


def interpolation(t: Traversed) -> Iterator[Setting]:
    mmse = mmse_partner(t)
    for alpha in t.cfg.traversal.alpha:
        yield f"alpha={alpha}", [f"traversal.alpha={alpha}"], lambda a=alpha: Interpolation(t.model, mmse, a)


def transport(t: Traversed) -> Iterator[Setting]:
    fitted = None
    for alpha in t.cfg.traversal.alpha:

        def build(alpha: float = alpha) -> Restorer:
            nonlocal fitted
            if fitted is None:
                fitted = fit_transport(t)
            fitted.alpha = float(alpha)
            return fitted

        yield f"alpha={alpha}", [f"traversal.alpha={alpha}"], build


def references(t: Traversed) -> Iterator[Setting]:
    model, source, degradation = t.model, t.datamodule.source, t.datamodule.degradation
    builders = {
        "observation": lambda: ObservationRestorer(degradation, model.channels, model.seed),
        "clean_draw": lambda: CleanDrawRestorer(degradation, t.datamodule.val_pairs.x, model.seed),
        "model": lambda: model,
    }
    for kind in ("mmse", "map", "sample"):
        if exact_posterior(source, degradation, kind) is not None:
            builders[f"exact_{kind}"] = lambda kind=kind: exact_posterior(source, degradation, kind, model.seed)
    for name in t.cfg.traversal.estimators:
        if name not in builders:
            if name.startswith("exact_"):
                log.info("%s skipped: the posterior of this source and degradation has no closed form", name)
                continue
            raise ConfigError(f"traversal.estimators: unknown estimator {name!r}; known: {', '.join(builders)}")
        yield f"estimator={name}", [f"traversal.estimator={name}"], builders[name]


TRAVERSALS = {f.__name__: f for f in (averaging, interpolation, transport, references)}


def mmse_partner(t: Traversed) -> Restorer:
    """The restorer at traversal.mmse_ckpt_path, as stored (no sampler knobs or overrides), after checking that it
    restores the same degradation and channels as `ckpt_path`."""
    path = OmegaConf.select(t.cfg, "traversal.mmse_ckpt_path")  # None when left at ??? : named in the error
    partner = restorer_from_checkpoint(path, t.datamodule.degradation, key="traversal.mmse_ckpt_path").to(
        t.model.device
    )
    if partner.channels != t.model.channels:
        raise ConfigError(
            f"traversal.mmse_ckpt_path={path} restores {partner.channels}-channel images, ckpt_path {t.model.channels}"
        )
    return partner


def fit_transport(t: Traversed) -> PatchTransport:
    """PatchTransport fitted on the restorations of `fit_images` training inputs and on as many other clean
    training images (unpaired, as in Deep OT)."""
    cfg, model, datamodule = t.cfg, t.model, t.datamodule
    n = int(cfg.traversal.fit_images)
    if n < 1:
        raise ConfigError(f"traversal.fit_images must be >= 1, got {n}")
    draws = DegradedDraws(datamodule.source, datamodule.degradation, 2 * n, model.seed)
    pairs = [draws[(0, i)] for i in range(2 * n)]
    y = torch.stack([p["y"] for p in pairs[:n]]).to(model.device)
    clean = torch.stack([p["x"] for p in pairs[n:]]).to(model.device)
    with torch.no_grad():
        restored = model.restore(y, 1, generator=model.eval_generator(0xF1))[:, 0]
    return PatchTransport(model, cfg.traversal.patch_size).to(model.device).fit(restored, clean)


def traverse(cfg: DictConfig) -> dict[str, RunRecord]:
    """Evaluate every setting of `cfg.traversal` not finished yet; returns {job name: run record}."""
    if cfg.traversal.name not in TRAVERSALS:
        raise ConfigError(f"traversal.name={cfg.traversal.name!r}; known: {', '.join(TRAVERSALS)}")
    output_dir = Path(cfg.paths.output_dir)
    train_cfg, datamodule, model = evaluation_setup(cfg)
    model.to(device_for(cfg.accelerator))
    adv_weight = None if cfg.traversal.name == "references" else adversarial_weight(model)

    def job(name: str, overrides: list[str], build: Callable[[], Restorer]):
        job_dir = output_dir / name

        def run() -> RunRecord:
            metrics, maximized = measure_restorer(build(), datamodule, train_cfg, job_dir, cfg.split, cfg.accelerator)
            extra = {"traversal": cfg.traversal.name, "higher_is_better": maximized}
            record = RunRecord(metrics, overrides, str(cfg.ckpt_path), adv_weight, cfg.split, extra)
            add_prediction(name, record, output_dir, cfg.split)
            record.write_job(job_dir, train_cfg)
            log.info("%s: %s", name, metrics)
            return record

        return name, job_dir, run

    traversal = TRAVERSALS[cfg.traversal.name](Traversed(cfg, train_cfg, datamodule, model))
    done = measure_jobs((job(*setting) for setting in traversal), cfg.traversal.name)
    progress.info("%s: %d settings in %s", cfg.traversal.name, len(done), output_dir)
    return done


def add_prediction(name: str, record: RunRecord, output_dir: Path, split: str) -> None:
    """For sample averaging: the per-pixel MSE a + b/k predicted from the k = 1 setting's decomposition (k = 1 runs
    first: its record is this one or the one in output_dir/k=1)."""
    if not name.startswith("k="):
        return
    first = (record if name == "k=1" else RunRecord.read(output_dir / "k=1") or RunRecord({})).metrics
    a, b = f"{split}/uncertainty/mse_k_a", f"{split}/uncertainty/mse_k_b"
    if a in first:
        k = int(name.removeprefix("k="))
        record.metrics[f"{split}/distortion/mse_predicted"] = first[a] + first[b] / k


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="traverse")
def main(cfg: DictConfig) -> None:
    run_job(traverse, cfg, log)


if __name__ == "__main__":
    main()
