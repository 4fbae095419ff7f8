"""The run directory's contract, written and read only here: checkpoints (with the run's config and W&B run id
inside) to resume from, `results.json` (a `RunRecord`) on success, `failures.jsonl` on failure, the stored config
(`.hydra/`), the W&B run id file, and the status of a job directory (`Job`)."""

import csv
import json
import logging
import math
import pickle
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from tradeoffs.core.errors import ConfigError

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
RESULTS_FILE = "results.json"
FAILURES_FILE = "failures.jsonl"
EPOCHS_FILE = "tradeoff_epochs.csv"  # one row per measurement (callbacks.epoch_table)
PANEL_SAMPLES_FILE = Path("images") / "panel_samples.npz"  # the latest panel's arrays (callbacks.panels)
RUN_ID_FILE = "wandb_run_id"
RUN_ID_KEY = "wandb_run_id"  # in every checkpoint: resumes reuse the W&B run
CONFIG_KEY = "tradeoffs_config"  # in every checkpoint: the training config, as plain containers


# Keys a resume may change: how long to train, where and how to log, which devices. Anything else would make the
# resumed run a different experiment under the old run's name.
RESUMABLE_CHANGES = (
    "ckpt_path",
    "trainer.max_epochs",
    "trainer.devices",
    "trainer.accelerator",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "callbacks.progress_bar",
    "logger",
    "paths",
    "lease",
    "tags",
    "data.num_workers",
    "trusted_checkpoints",
)


class RunRefused(ConfigError):
    """A command refused because of what its run directory already holds, raised before anything there was
    written: the directory's files stay byte-identical."""


@dataclass
class Start:
    """How a training job starts in its run directory: `finished` (a record: skip), or from `checkpoint_path`
    (None: fresh) with its loaded `checkpoint`; `resumes`: that checkpoint is this directory's own (same run, same
    W&B run), not a checkpoint of another run to start from; `changes`: `key: old -> new` of the config against the
    checkpoint's (for a resume, only RESUMABLE_CHANGES)."""

    finished: "RunRecord | None" = None
    checkpoint_path: Path | None = None
    checkpoint: dict | None = None
    resumes: bool = False
    changes: list[str] = field(default_factory=list)


def plan_start(ckpt_path: str | None, output_dir: Path, config: Mapping, config_key: str) -> Start:
    """Decide, reading only, how a job starts in `output_dir` (see `Start`); RunRefused for anything that would
    overwrite or change a run there.

    `ckpt_path`: None (a fresh run; refused where a run exists), `auto` (skip a finished run, resume an unfinished
    one, else fresh: sweeps and requeued cluster jobs), `last` (resume this run) or a checkpoint file. Resuming this
    directory's own run with a config that differs outside RESUMABLE_CHANGES (`config`, the job's stored config,
    against the checkpoint's `config_key` entry) is refused, naming the changed keys."""
    output_dir = Path(output_dir)
    last = output_dir / LAST_CHECKPOINT
    if (finished := RunRecord.read(output_dir)) is not None:
        if ckpt_path == "auto":
            return Start(finished=finished)
        if ckpt_path is None:
            raise RunRefused(
                f"{output_dir} holds a finished run (results.json): ckpt_path=auto skips it, "
                "or choose another hydra.run.dir"
            )
        raise RunRefused(
            f"{output_dir} holds a finished run (results.json), nothing to resume: to train it further, start a new "
            f"run from its weights (hydra.run.dir=NEW model.warm_start={last})"
        )
    if ckpt_path is None:
        if last.is_file():
            raise RunRefused(
                f"{output_dir} holds an unfinished run ({LAST_CHECKPOINT}): resume it with ckpt_path=auto, "
                "or choose another hydra.run.dir"
            )
        return Start()
    if ckpt_path == "auto" and not last.is_file():
        return Start()
    path = last if ckpt_path in ("auto", "last") else Path(ckpt_path).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: no such checkpoint file ({path})")
    checkpoint = load_checkpoint(path)
    stored, resumes = checkpoint.get(config_key), path.resolve().is_relative_to(output_dir.resolve())
    changes = [c for c in config_changes(stored, config) if not c.startswith("ckpt_path")] if stored else []
    if resumes:
        changed = [c.split(":")[0] for c in changes if not c.startswith(RESUMABLE_CHANGES)]
        if changed:
            raise RunRefused(
                f"resuming {path} with a different {', '.join(changed)}: a resume may change only "
                f"trainer.max_epochs, logging and devices; to fine-tune its weights with other settings start a "
                f"new run (hydra.run.dir=NEW model.warm_start={path})"
            )
    return Start(checkpoint_path=path, checkpoint=checkpoint, resumes=resumes, changes=changes)


def config_changes(before: Mapping, after: Mapping, prefix: str = "") -> list[str]:
    """`key: old -> new` for every leaf that differs between two nested config dicts."""
    changes = []
    for key in sorted(set(before) | set(after), key=str):
        old, new, name = before.get(key), after.get(key), f"{prefix}{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes += config_changes(old, new, f"{name}.")
        elif old != new:
            changes.append(f"{name}: {old} -> {new}")
    return changes


_TRUSTED: set[Path] = set()  # checkpoint files the user allows to unpickle fully (`trusted_checkpoints`)


def trust_checkpoints(paths) -> None:
    """Allow these checkpoint files (the entry point's `trusted_checkpoints`) to be unpickled fully: a pickle can
    run any code when loaded, so only files the user names here are, each of the others loads weights-only."""
    _TRUSTED.update(Path(str(p)).expanduser().resolve() for p in paths)


def trusted(path: Path) -> bool:
    return Path(path).expanduser().resolve() in _TRUSTED


def load_checkpoint(path: Path | None, key: str = "ckpt_path") -> dict | None:
    """The checkpoint at `path` (None for None), loaded weights-only: tensors and plain containers, nothing that
    runs code. ConfigError naming `key` and the file if it is missing, is not a checkpoint written by
    torch/Lightning, or needs full unpickling and is not among `trusted_checkpoints`."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise ConfigError(f"{key}={path}: no such checkpoint file")
    weights_only = not trusted(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as error:
        if weights_only and "Unsupported global" in str(error):  # a pickle of objects, not garbage
            raise ConfigError(
                f"{key}={path} holds objects beyond tensors and plain containers, and unpickling them can run code:"
                f" refused; if you trust this file, pass 'trusted_checkpoints=[{path}]'"
            ) from None
        raise ConfigError(f"{key}={path} is not a checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{key}={path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def save_checkpoint(path: Path, state_dict: Mapping, config: Mapping) -> Path:
    """A checkpoint of weights and the config that rebuilds their restorer (no trainer state), as `wrap` stores a
    network trained elsewhere; it loads with `torch.load(weights_only=True)`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": dict(state_dict), CONFIG_KEY: config}, path)
    return path


def config_to_store(cfg: DictConfig) -> dict:
    """The run's config without Hydra's own node, unresolved (paths re-resolve wherever it is used again)."""
    return {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"}


def stored_config(checkpoint: dict, ckpt_path: Path) -> DictConfig:
    """The training config a checkpoint carries (else RUN/.hydra/config.yaml beside RUN/checkpoints/)."""
    if CONFIG_KEY in checkpoint:
        return OmegaConf.create(checkpoint[CONFIG_KEY])
    config_file = ckpt_path.parent.parent / ".hydra" / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: holds no training config and {config_file} is missing")
    return OmegaConf.load(config_file)


def run_id_for(output_dir: str | Path, checkpoint: dict | None) -> str:
    """The checkpoint's W&B run id, else the one saved in output_dir, else a new one (saved there)."""
    path = Path(output_dir) / RUN_ID_FILE
    run_id = (checkpoint or {}).get(RUN_ID_KEY)
    if run_id is None and path.is_file():
        run_id = path.read_text().strip()
    run_id = run_id or uuid.uuid4().hex[:12]  # W&B ids: lowercase letters and digits
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


def scalar_metrics(metrics: Mapping) -> dict[str, float]:
    """Logged metrics as plain floats (NaN/inf kept as strings so the JSON stays standard)."""
    out = {}
    for key, value in sorted(metrics.items()):
        number = float(value.item() if hasattr(value, "item") else value)
        out[key] = number if math.isfinite(number) else str(number)
    return out


progress = logging.getLogger("tradeoffs.progress")  # one line per job as it starts and ends (hydra/job_logging=summary)
HEADLINE = {
    "val/perception/fd": "fd",
    "val/distortion/mse_subset": "MSE",
    "val/uncertainty/pooled": "U1",
    "val/uncertainty/spread": "U2",
}


def headline(metrics: Mapping) -> str:
    """The final numbers a progress line shows: `fd 0.0123, MSE 0.0440, U1 …` (the keys that were logged)."""
    return ", ".join(f"{name} {float(metrics[key]):.4g}" for key, name in HEADLINE.items() if key in metrics)


@dataclass
class RunRecord:
    """`results.json`: what every entry point writes when a job succeeds, and what sweeps and the curve tool read.

    `metrics` are the final logged values (floats; NaN/inf as strings), `overrides` the job's settings as Hydra
    overrides (they label the job on the planes), `checkpoint` the weights measured, `adv_weight` λ (None for
    restorers without one), `split` val | test; `extra` holds what one entry point adds (epochs, W&B run id, the
    sampler settings, the traversal, ...), stored at the top level of the JSON file."""

    metrics: dict[str, float | str]
    overrides: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    adv_weight: float | None = None
    split: str = "val"
    extra: dict = field(default_factory=dict)

    FIELDS = ("metrics", "overrides", "checkpoint", "adv_weight", "split")

    def as_dict(self) -> dict:
        named = {"metrics": self.metrics, "overrides": self.overrides, "checkpoint": self.checkpoint}
        named |= {"split": self.split} | ({"adv_weight": self.adv_weight} if self.adv_weight is not None else {})
        return named | self.extra

    @classmethod
    def from_dict(cls, payload: Mapping) -> "RunRecord":
        extra = {k: v for k, v in payload.items() if k not in cls.FIELDS}
        return cls(**{k: payload[k] for k in cls.FIELDS if k in payload}, extra=extra)

    def write(self, output_dir: Path) -> Path:
        return write_json(Path(output_dir) / RESULTS_FILE, self.as_dict())

    def write_job(self, job_dir: Path, config=None) -> Path:
        """A job directory the curve tool reads, for jobs made outside a Hydra multirun (traversal settings,
        baselines, folders of outputs): `.hydra/overrides.yaml` (the record's overrides, which label the job),
        `.hydra/config.yaml` when a config is given (data + degradation: theory overlays) and results.json."""
        hydra_dir = Path(job_dir) / ".hydra"
        hydra_dir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            OmegaConf.save(config, hydra_dir / "config.yaml")
        OmegaConf.save(OmegaConf.create(list(self.overrides)), hydra_dir / "overrides.yaml")
        return self.write(job_dir)

    @classmethod
    def read(cls, output_dir: Path) -> "RunRecord | None":
        path = Path(output_dir) / RESULTS_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else None


def measure_jobs(jobs: Iterable[tuple[str, Path, Callable[[], "RunRecord"]]], what: str) -> dict[str, "RunRecord"]:
    """The skip-or-measure loop of the tools that make one job directory per setting (baselines, evaluate_outputs,
    traverse): `jobs` yields (name, job directory, measure); a directory holding results.json is skipped, byte for
    byte as it was, else `measure()` runs and writes the job's record. One progress line per job; {name: record}."""
    done = {}
    for name, job_dir, run in jobs:
        if (record := RunRecord.read(job_dir)) is None:
            record = run()
            progress.info("%s %s: %s", what, name, headline(record.metrics))
        else:
            progress.info("%s %s: finished already, skipped", what, name)
        done[name] = record
    return done


@dataclass
class Job:
    """A job directory (None for a job a sweep defines but never started) and its status: `finished` (a record),
    `failed` (failures.jsonl, no record), `unfinished` (started, neither) or `missing`."""

    directory: Path | None
    overrides: list[str]
    status: str
    record: RunRecord | None = None
    error: str | None = None

    @property
    def metrics(self) -> dict[str, float | str]:
        return self.record.metrics if self.record is not None else {}

    @property
    def name(self) -> str:
        return self.directory.name if self.directory is not None else ",".join(self.overrides)

    def epochs(self) -> list[dict]:
        """Rows of the job's tradeoff_epochs.csv (empty if it has none)."""
        path = None if self.directory is None else self.directory / EPOCHS_FILE
        if path is None or not path.is_file():
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(f))


def read_job(directory: Path) -> Job:
    """The job in `directory` (which holds .hydra/overrides.yaml)."""
    overrides = [str(o) for o in OmegaConf.load(directory / ".hydra" / "overrides.yaml")]
    if (record := RunRecord.read(directory)) is not None:
        return Job(directory, overrides, "finished", record)
    failures = directory / FAILURES_FILE
    if failures.is_file():
        last = json.loads(failures.read_text().strip().splitlines()[-1])
        return Job(directory, overrides, "failed", error=f"{last['type']}: {last['message']}")
    return Job(directory, overrides, "unfinished")


def write_job_config(output_dir: Path, config, hydra_config) -> None:
    """`.hydra/{config,hydra,overrides}.yaml` of a run directory, as Hydra writes them, but only once the job has
    decided to run there (train and evaluate set hydra.output_subdir=null, so a skipped or refused job leaves an
    existing run's files as they were)."""
    hydra_dir = Path(output_dir) / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra_config}), hydra_dir / "hydra.yaml")
    OmegaConf.save(hydra_config.overrides.task, hydra_dir / "overrides.yaml")


def record_failure(output_dir: Path, error: BaseException) -> None:
    """Append the error (type, message, traceback, time) to failures.jsonl: a failed job keeps its history."""
    output_dir.mkdir(parents=True, exist_ok=True)
    entry = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }
    with open(output_dir / FAILURES_FILE, "a") as f:
        f.write(json.dumps(entry) + "\n")


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path
