"""Reading a sweep directory: every job (`core.runs.Job`: status, overrides, run record, per-epoch rows).

A job directory is any folder below the sweep holding `.hydra/overrides.yaml`; a single run directory is a sweep of
one job. Jobs the sweep defines (from its multirun.yaml, expanded as Hydra's basic sweeper does) but that never
started are `missing`.
"""

from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from tradeoffs.core.runs import Job, read_job


def expected_overrides(sweep_dir: Path) -> list[list[str]]:
    """The jobs the sweep defines: sweeper params and command-line overrides, expanded as BasicSweeper does."""
    multirun = sweep_dir / "multirun.yaml"
    if not multirun.is_file():
        return []
    hydra_cfg = OmegaConf.load(multirun).hydra
    params = [f"{k}={v}" for k, v in (hydra_cfg.sweeper.get("params") or {}).items()]
    parsed = OverridesParser.create().parse_overrides([*params, *hydra_cfg.overrides.task])
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def collect(sweep_dir: str | Path) -> list[Job]:
    """All jobs of a sweep, started or not, in the sweep's order (then any extra job directories)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no such sweep directory: {sweep_dir}")
    if not (sweep_dir / "multirun.yaml").is_file() and not job_directories(sweep_dir):
        raise FileNotFoundError(f"{sweep_dir} holds no runs (no multirun.yaml and no job directory with .hydra/)")
    started = {frozenset(job.overrides): job for job in map(read_job, job_directories(sweep_dir))}
    jobs = []
    for overrides in expected_overrides(sweep_dir):
        jobs.append(started.pop(frozenset(overrides), None) or Job(None, overrides, "missing"))
    return jobs + sorted(started.values(), key=lambda j: j.name)


def job_directories(sweep_dir: Path) -> list[Path]:
    """The job directories below `sweep_dir`, or `sweep_dir` itself when it is a single run."""
    below = sorted(p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml") if p.parent.parent != sweep_dir)
    return below or ([sweep_dir] if (sweep_dir / ".hydra" / "overrides.yaml").is_file() else [])
