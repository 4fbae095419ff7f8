"""Reading a sweep directory: every job's status, overrides, final results and per-epoch rows.

A job directory is any folder below the sweep holding `.hydra/overrides.yaml`. Its status: `finished` (results.json),
`failed` (failures.jsonl and no results), `unfinished` (started, neither). Jobs the sweep defines (from its
multirun.yaml, expanded as Hydra's basic sweeper does) but that never started are `missing`.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from tradeoffs.runs import FAILURES_FILE, RESULTS_FILE


@dataclass
class Job:
    directory: Path | None
    overrides: list[str]
    status: str  # finished | failed | unfinished | missing
    results: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        return self.results.get("metrics", {})

    @property
    def name(self) -> str:
        return self.directory.name if self.directory is not None else ",".join(self.overrides)

    def epochs(self) -> list[dict]:
        """Rows of the job's tradeoff_epochs.csv (empty if it has none)."""
        path = None if self.directory is None else self.directory / "tradeoff_epochs.csv"
        if path is None or not path.is_file():
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(f))


def read_job(directory: Path) -> Job:
    overrides = [str(o) for o in OmegaConf.load(directory / ".hydra" / "overrides.yaml")]
    if (directory / RESULTS_FILE).is_file():
        return Job(directory, overrides, "finished", json.loads((directory / RESULTS_FILE).read_text()))
    failures = directory / FAILURES_FILE
    if failures.is_file():
        last = json.loads(failures.read_text().strip().splitlines()[-1])
        return Job(directory, overrides, "failed", error=f"{last['type']}: {last['message']}")
    return Job(directory, overrides, "unfinished")


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
    started = {frozenset(job.overrides): job for job in map(read_job, job_directories(sweep_dir))}
    jobs = []
    for overrides in expected_overrides(sweep_dir):
        jobs.append(started.pop(frozenset(overrides), None) or Job(None, overrides, "missing"))
    return jobs + sorted(started.values(), key=lambda j: j.name)


def job_directories(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml") if p.parent.parent != sweep_dir)
