"""Measure restorations made anywhere: `python -m tradeoffs.evaluate_outputs clean_root=DIR +methods.NAME=DIR ...`.

Outputs are matched to the clean images by name (`tradeoffs.data.output_folders`). Perception compares with the
clean images of `reference_root`, or, without one, with a seeded half of `clean_root` whose inputs are then not
measured (disjoint, as in training). The engine of `conf/metrics` measures every method with K = its number of
samples per input, and each method becomes a job directory `OUT/NAME/` (`.hydra/overrides.yaml` = `method=NAME`,
`results.json`, image panel) that the curve tool draws beside λ sweeps. A method with a results.json is skipped.
"""

import logging
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from tradeoffs.assemble import CONFIG_DIR, instantiate
from tradeoffs.callbacks.panels import write_panel
from tradeoffs.cli import run_job
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import RunRecord, measure_jobs, progress
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.output_folders import read_clean, read_image, read_outputs
from tradeoffs.metrics.engine import Subset
from tradeoffs.metrics.measuring import measure
from tradeoffs.sweeps.lease import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()
_SPLIT_STREAM = 0x0F5


def measured_and_reference(cfg: DictConfig) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """(ids measured, their clean images, the reference images)."""
    ids, clean = read_clean(cfg.clean_root, "clean_root")
    if cfg.reference_root is not None:
        _, reference = read_clean(cfg.reference_root, "reference_root")
        if reference.shape[1:] != clean.shape[1:]:
            raise ConfigError(f"reference_root={cfg.reference_root}: images differ in size or channels from clean_root")
        return ids, clean, reference
    if len(ids) < 4:
        raise ConfigError(f"clean_root={cfg.clean_root}: {len(ids)} images; a measured and a reference half need >= 4")
    order = torch.randperm(len(ids), generator=generator_for(cfg.seed, _SPLIT_STREAM))
    half = order[: len(ids) // 2].sort().values, order[len(ids) // 2 :]
    return [ids[i] for i in half[0]], clean[half[0]], clean[half[1]]


def observations(cfg: DictConfig, ids: list[str], clean: torch.Tensor) -> torch.Tensor:
    """The observations shown in panels, resized (bicubic) to the clean size; zeros without observed_root."""
    if cfg.observed_root is None:
        return torch.zeros_like(clean)
    root = Path(cfg.observed_root).expanduser()
    shown = []
    for name, x in zip(ids, clean, strict=True):
        path = next((p for p in sorted(root.glob(f"{name}.*")) if p.is_file()), None)
        if path is None:
            raise ConfigError(f"observed_root={cfg.observed_root}: no observation {name}.png")
        y = read_image(path, "observed_root")
        if y.shape[0] != x.shape[0]:  # e.g. the grey observation of a colorization
            y = y.mean(0, keepdim=True).expand(x.shape[0], -1, -1)
        shown.append(F.interpolate(y[None], size=x.shape[-2:], mode="bicubic", align_corners=False)[0].clamp(0, 1))
    return torch.stack(shown)


def evaluate_method(cfg: DictConfig, name: str, root: str, sets) -> RunRecord:
    ids, clean, reference, shown = sets
    samples = read_outputs(root, ids, clean, f"methods.{name}")
    engine = instantiate(OmegaConf.merge(cfg.metrics, {"num_samples": samples.shape[1]}))
    engine.prepare(*clean.shape[1:], len(ids))
    step = engine.batch_size
    batches = (
        (clean[s : s + step], None, shown[s : s + step], samples[s : s + step], {}) for s in range(0, len(ids), step)
    )
    job_dir = Path(cfg.paths.output_dir) / name
    measured = measure(
        engine,
        Subset(clean, None, reference),
        cfg.stage,
        restorations=batches,
        listeners=[lambda measured: write_panel(job_dir, measured)],
    )
    extra = {
        "method": name,
        "outputs": str(root),
        "inputs": ids,
        "samples_per_input": samples.shape[1],
        "higher_is_better": engine.maximized(cfg.stage),
    }
    record = RunRecord(measured.values, [f"method={name}"], None, None, cfg.stage, extra)
    record.write_job(job_dir)
    return record


def evaluate_outputs(cfg: DictConfig) -> dict[str, RunRecord]:
    if not cfg.methods:
        raise ConfigError("no methods: pass +methods.NAME=DIR (one per method)")
    ids, clean, reference = measured_and_reference(cfg)
    sets = (ids, clean, reference, observations(cfg, ids, clean))
    jobs = (
        (name, Path(cfg.paths.output_dir) / name, lambda name=name, root=root: evaluate_method(cfg, name, root, sets))
        for name, root in cfg.methods.items()
    )
    done = measure_jobs(jobs, "method")
    progress.info("%d methods, %d inputs each, in %s", len(done), len(ids), cfg.paths.output_dir)
    return done


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate_outputs")
def main(cfg: DictConfig) -> None:
    run_job(evaluate_outputs, cfg, log)


if __name__ == "__main__":
    main()
