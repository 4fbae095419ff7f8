"""The run directory's contract: checkpoints to resume from, results.json on success, failures.jsonl on failure."""

import json
import logging
import math
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

import torch

from tradeoffs.errors import ConfigError

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
RESULTS_FILE = "results.json"
FAILURES_FILE = "failures.jsonl"


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> Path | None:
    """`ckpt_path` as a file: None (fresh run), `last` (this run dir's last.ckpt), `auto` (last.ckpt if there is
    one, else a fresh run: what sweeps and requeued cluster jobs use) or a path.

    A fresh run refuses an output dir that already holds a last.ckpt, so nothing is silently overwritten.
    """
    last = output_dir / LAST_CHECKPOINT
    if ckpt_path == "auto":
        return last if last.is_file() else None
    if ckpt_path is None:
        if last.is_file():
            raise ConfigError(
                f"{output_dir} already holds {LAST_CHECKPOINT}: pass ckpt_path=last to resume it, "
                "or choose another hydra.run.dir"
            )
        return None
    path = last if ckpt_path == "last" else Path(ckpt_path).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: no such checkpoint file ({path})")
    return path


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


def load_checkpoint(path: Path | None) -> dict | None:
    return None if path is None else torch.load(path, map_location="cpu", weights_only=False)


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


def finished_results(output_dir: Path) -> dict | None:
    path = output_dir / RESULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


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
