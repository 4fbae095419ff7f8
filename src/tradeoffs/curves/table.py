"""One row per job: its sweep, status, label (the swept settings), λ and every logged final metric, plus derived
columns and Pareto flags."""

import csv
import math
from pathlib import Path

from tradeoffs.core.runs import Job

W2 = "val/perception/w2"
SYMBOLS = {
    "model.adv_weight": "λ",
    "model.sampler.eta": "η",
    "model.sampler.steps": "steps",
    "traversal.k": "k",
    "traversal.alpha": "α",
    "traversal.estimator": "",  # labelled by the value alone: `observation`, `exact_mmse`, …
    "method": "",  # evaluate_outputs: the method's name
}


def pareto_front(xs: list[float], ys: list[float], maximize: tuple[bool, bool] = (False, False)) -> list[bool]:
    """Admissible points: no other point is at least as good on both axes and better on one (lower is better, or
    higher on an axis flagged in `maximize`, e.g. recall). Points with a missing (NaN) coordinate never are."""
    sx, sy = (-1.0 if flag else 1.0 for flag in maximize)
    points = [(sx * x, sy * y) for x, y in zip(xs, ys, strict=True)]

    def dominated(i: int) -> bool:
        xi, yi = points[i]
        return any(xj <= xi and yj <= yi and (xj < xi or yj < yi) for j, (xj, yj) in enumerate(points) if j != i)

    return [not (math.isnan(x) or math.isnan(y)) and not dominated(i) for i, (x, y) in enumerate(points)]


def maximized_keys(jobs: list[Job]) -> set[str]:
    """The keys the finished jobs' run records declare higher-is-better (precision, recall, PSNR, ...)."""
    return {k for job in jobs if job.record is not None for k in job.record.extra.get("higher_is_better", [])}


def as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def override_values(job: Job) -> dict[str, str]:
    return dict(o.lstrip("+").split("=", 1) for o in job.overrides if "=" in o and not o.startswith("~"))


def swept_keys(jobs: list[Job]) -> list[str]:
    """The override keys whose values differ between the jobs of one sweep, e.g. ["model.adv_weight"]."""
    values = [override_values(j) for j in jobs]
    keys = dict.fromkeys(k for v in values for k in v)
    return [k for k in keys if len({v.get(k) for v in values}) > 1]


def job_label(job: Job, keys: list[str]) -> str:
    """`λ=0.3`, `η=0.5`, `observation`, … from the swept keys; `λ=<adv_weight>` for a lone run."""
    values = override_values(job)

    def part(key: str) -> str:
        symbol = SYMBOLS.get(key, key.rsplit(".", 1)[-1])
        return f"{symbol}={values.get(key, '?')}" if symbol else values.get(key, "?")

    if keys:
        return ", ".join(map(part, keys))
    adv_weight = job.record.adv_weight if job.record is not None else None
    return f"λ={adv_weight:g}" if adv_weight is not None else job.name


def job_rows(jobs: list[Job], sweep: str = "") -> list[dict]:
    """Rows with `sweep`, `job`, `status`, `label`, `swept` (the value of the one swept key, else NaN),
    `adv_weight`, `error` and the metrics; W2 = sqrt(Fréchet distance) and its floor are added."""
    keys, rows = swept_keys(jobs), []
    for job in jobs:
        swept = as_float(override_values(job).get(keys[0])) if len(keys) == 1 else math.nan
        row = {"sweep": sweep, "job": job.name, "status": job.status, "label": job_label(job, keys), "swept": swept}
        row["swept_key"] = keys[0] if len(keys) == 1 else ""
        row["adv_weight"] = job.record.adv_weight if job.record and job.record.adv_weight is not None else math.nan
        extra = job.record.extra if job.record is not None else {}
        row["run_id"], row["seed"] = extra.get("wandb_run_id", ""), as_float(extra.get("seed"))
        row |= {k: as_float(v) for k, v in job.metrics.items()}
        for suffix in ("", "_floor"):  # W2 = sqrt(Fréchet distance), and its real-vs-real floor
            if f"val/perception/fd{suffix}" in row:
                row[f"{W2}{suffix}"] = math.sqrt(max(row[f"val/perception/fd{suffix}"], 0.0))
        row["error"] = job.error or ""
        rows.append(row)
    return rows


def check_keys(rows: list[dict], keys: list[str]) -> None:
    """KeyError naming the missing key and the keys that were logged, if no finished job logged one of `keys`."""
    finished = [r for r in rows if r["status"] == "finished"]
    available = sorted({k for r in finished for k in r if k.startswith(("val/", "train/"))})
    for key in keys:
        if finished and not any(key in r for r in finished):
            raise KeyError(f"no finished job logged {key!r}; logged keys: {', '.join(available)}")


def write_csv(rows: list[dict], path: Path) -> Path:
    header = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path
