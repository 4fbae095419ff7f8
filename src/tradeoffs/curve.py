"""Turn sweeps into tradeoff curves: `python -m tradeoffs.curve SWEEP_DIR [MORE_SWEEP_DIRS ...] [--x KEY --y KEY]`.

Writes, into the first SWEEP_DIR (or --out): tradeoff.csv (one row per job, with its sweep, status and Pareto flags
over all sweeps together), and PNG + SVG of the perception–distortion, uncertainty–perception and
uncertainty–distortion planes, one marker per sweep (e.g. a λ sweep beside an η sweep of evaluate); lists missing
and failed jobs; logs a summary W&B run (offline unless --wandb online).
"""

import argparse
import logging
import math
import sys
from pathlib import Path

import wandb
from scipy.stats import spearmanr

from tradeoffs.core.runs import PANEL_SAMPLES_FILE, Job
from tradeoffs.curves.plot import Plane, finite_points, plot_plane
from tradeoffs.curves.strip import STRIP_FILE, PanelSamples, draw_strip
from tradeoffs.curves.table import SYMBOLS, W2, check_keys, job_rows, maximized_keys, pareto_front, write_csv
from tradeoffs.curves.theory_overlay import Overlay, overlay_for
from tradeoffs.sweeps.collect import collect

log = logging.getLogger("tradeoffs.curve")
# One-sample MSE on the metrics subset (the images and samples perception is measured on), the whole validation
# set's one-sample MSE, and the MSE of all K samples on the subset (the images and samples U1 pools).
SUBSET_MSE, MSE, SAMPLES_MSE = "val/distortion/mse_subset", "val/distortion/mse", "val/uncertainty/mse"
POOLED, RENYI = "val/uncertainty/pooled", "val/perception/renyi"


def planes(x: str, y: str, overlay: Overlay | None) -> list[Plane]:
    """Perception–distortion (x, y), uncertainty–perception and uncertainty–distortion; every pair of axes is
    measured on the same validation inputs (the metrics subset)."""
    pd = Plane("perception_distortion", x, y, "perception–distortion")
    up = Plane("uncertainty_perception", RENYI, POOLED, "uncertainty–perception")
    ud = Plane("uncertainty_distortion", SAMPLES_MSE, POOLED, "uncertainty–distortion", diagonal="U = per-pixel MSE")
    if overlay is not None:
        if y in (SUBSET_MSE, MSE) and x in (W2, "val/perception/fd"):
            to_w2 = (lambda v: v) if x == W2 else (lambda v: v**0.5)
            pd.curves.append(("D(P) (Freirich et al.)", lambda v: overlay.distortion(to_w2(v))))
            pd.levels += [("MMSE D*", overlay.mmse), ("2·MMSE (posterior sampler)", 2 * overlay.mmse)]
        bound = "U(P) = η(P; d)·N(X|Y) (Cohen et al.; a bound at conditional perception)"
        up.curves.append((bound, overlay.uncertainty))
        up.levels += [
            ("N(X|Y)", overlay.theory.inherent_uncertainty),
            ("2·N(X|Y)", 2 * overlay.theory.inherent_uncertainty),
        ]
    return [pd, up, ud]


def rank_correlations(rows: list[dict], keys: list[str]) -> dict[str, dict[str, float]]:
    """Per sweep, Spearman ρ between its swept value (λ, η, steps, …) and each key over the finished jobs: how
    monotone the sweep walks along an axis."""
    out: dict[str, dict[str, float]] = {}
    for sweep in dict.fromkeys(r["sweep"] for r in rows):
        finished = [r for r in rows if r["sweep"] == sweep and r["status"] == "finished" and not math.isnan(r["swept"])]
        for key in keys:
            pairs = [(r["swept"], r[key]) for r in finished if key in r and not math.isnan(r[key])]
            values = [v for _, v in pairs]
            spread = max(values, default=0.0) - min(values, default=0.0)
            # ρ of a constant column is undefined, and of values equal up to float round-off it is noise
            if len(pairs) >= 3 and spread > 1e-6 * max(map(abs, values)):
                out.setdefault(sweep, {})[key] = float(spearmanr(*zip(*pairs, strict=True)).statistic)
    return out


def summarize(jobs: list[Job], rows: list[dict], correlations: dict[str, dict[str, float]]) -> str:
    counts = {s: sum(j.status == s for j in jobs) for s in ("finished", "unfinished", "failed", "missing")}
    lines = [", ".join(f"{n} {s}" for s, n in counts.items())]
    swept = {r["sweep"]: SYMBOLS.get(r["swept_key"], r["swept_key"]) for r in rows}
    for sweep, values in correlations.items():
        lines += [f"  {sweep}: Spearman ρ({swept[sweep]}, {key}) = {rho:+.2f}" for key, rho in values.items()]
    lines += [f"  failed:     {j.name}: {j.error}" for j in jobs if j.status == "failed"]
    lines += [f"  unfinished: {j.name}" for j in jobs if j.status == "unfinished"]
    lines += [f"  missing:    {' '.join(j.overrides)}" for j in jobs if j.status == "missing"]
    return "\n".join(lines)


def measurement_groups(rows: list[dict]) -> dict[tuple, list[str]]:
    """Finished jobs grouped by their real-vs-real floors (every `*_floor` key): a floor depends only on the clean
    images measured and the metric settings, so jobs with different floors were measured on different data (another
    source, crop, seed or `metrics.*`) and their points are not comparable."""
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        if r["status"] == "finished":
            floors = tuple(sorted((k, round(v, 6)) for k, v in r.items() if k.endswith("_floor") and v == v))
            groups.setdefault(floors, []).append(r["label"])
    return groups


def make_curves(
    sweep_dirs: Path | list[Path],
    out_dir: Path,
    x: str,
    y: str,
    epochs: bool = False,
    wandb_mode: str = "offline",
    front_across: bool = False,
) -> dict:
    sweep_dirs = [Path(sweep_dirs)] if isinstance(sweep_dirs, str | Path) else [Path(d) for d in sweep_dirs]
    jobs, rows = [], []
    for sweep_dir in sweep_dirs:
        sweep_jobs = collect(sweep_dir)
        jobs += sweep_jobs
        rows += job_rows(sweep_jobs, sweep=sweep_dir.name)
    check_keys(rows, [x, y])
    groups = measurement_groups(rows)
    comparable = len(groups) <= 1
    if not comparable:
        described = "; ".join(f"{', '.join(labels[:4])}{' …' if len(labels) > 4 else ''}" for labels in groups.values())
        log.warning(
            "these runs were measured on %d different sets of images or metric settings (their real-vs-real floors "
            "differ): %s. %s",
            len(groups),
            described,
            "Fronts drawn across them anyway (--front-across)"
            if front_across
            else "No Pareto front drawn (--front-across draws one anyway)",
        )
    overlay = overlay_for(next((j.directory for j in jobs if j.status == "finished"), None))
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    trajectories = {j.name: j.epochs() for j in jobs} if epochs else None
    maximized = maximized_keys(jobs)
    for plane in planes(x, y, overlay):
        if not finite_points(rows, plane):
            log.warning("no finished job has both %s and %s: %s skipped", plane.x, plane.y, plane.name)
            continue
        plane.maximize = (plane.x in maximized, plane.y in maximized)
        plane.front = comparable or front_across
        xs, ys = ([r.get(key, float("nan")) for r in rows] for key in (plane.x, plane.y))
        flags = [f and plane.front for f in pareto_front(xs, ys, plane.maximize)]
        for r, flag in zip(rows, flags, strict=True):
            r[f"admissible_{plane.name}"] = flag
        figures += plot_plane(rows, plane, out_dir, trajectories)
    if overlay is not None:
        for r in rows:
            if r["status"] == "finished" and W2 in r and y in r and y in (SUBSET_MSE, MSE):
                r["excess_over_bound"] = overlay.excess_over_bound(r[W2], r[y])
            if r["status"] == "finished" and RENYI in r and POOLED in r:
                r["uncertainty_over_bound"] = r[POOLED] / float(overlay.uncertainty(r[RENYI]))
    strip = draw_strip(strip_panels(jobs, rows), out_dir / STRIP_FILE)
    figures += [strip] if strip is not None else []
    table = write_csv(rows, out_dir / "tradeoff.csv")
    if epochs:
        write_csv(
            [{"job": r["job"], "label": r["label"], **e} for j, r in zip(jobs, rows, strict=True) for e in j.epochs()],
            out_dir / "tradeoff_epochs.csv",
        )
    planes_drawn = [(p.name, p.x, p.y) for p in planes(x, y, overlay) if finite_points(rows, p)]
    log_summary_run(sweep_dirs, out_dir, jobs, rows, figures, planes_drawn, wandb_mode)
    correlations = rank_correlations(rows, list(dict.fromkeys([x, y, RENYI, POOLED])))
    return {
        "rows": rows,
        "table": table,
        "figures": figures,
        "correlations": correlations,
        "summary": summarize(jobs, rows, correlations),
    }


def strip_panels(jobs: list[Job], rows: list[dict]) -> list[PanelSamples]:
    """The strip's columns: finished jobs with a numeric swept value (λ, η, k, α; not reference estimators) that
    saved panel samples, sweep by sweep in ascending swept value; with several sweeps each column is titled by its
    sweep too (an interpolation's α and a transport's α are different families)."""
    chosen = [
        (r["sweep"], r["swept"], r["label"], j.directory / PANEL_SAMPLES_FILE)
        for j, r in zip(jobs, rows, strict=True)
        if r["status"] == "finished" and not math.isnan(r["swept"]) and (j.directory / PANEL_SAMPLES_FILE).is_file()
    ]
    order = {sweep: i for i, sweep in enumerate(dict.fromkeys(r["sweep"] for r in rows))}
    chosen.sort(key=lambda c: (order[c[0]], c[1]))
    several = len({c[0] for c in chosen}) > 1
    return [PanelSamples.load(f"{sweep}\n{label}" if several else label, path) for sweep, _, label, path in chosen]


def log_summary_run(
    sweep_dirs: list[Path],
    out_dir: Path,
    jobs: list[Job],
    rows: list[dict],
    figures: list[Path],
    planes_drawn: list[tuple[str, str, str]],
    mode: str,
) -> None:
    """A W&B run in the sweep's group (the first finished job's): the table (one row per job, with its W&B run id,
    seed and label; a missing or non-finite value is empty), each plane as a W&B scatter of that table beside its
    PNG, and the strip."""
    if mode == "disabled":
        return
    header = list(dict.fromkeys(k for r in rows for k in r))
    group = next((j.record.extra.get("wandb_group") for j in jobs if j.record is not None), None)
    run = wandb.init(
        project="tradeoffs",
        dir=str(out_dir),
        mode=mode,
        job_type="curve",
        group=group,
        name="curve_" + "+".join(d.name for d in sweep_dirs),
        config={"sweep_dirs": [str(d) for d in sweep_dirs]},
    )
    table = wandb.Table(columns=header, data=[[table_cell(r.get(k)) for k in header] for r in rows])
    scatters = {
        f"planes/{name}": wandb.plot.scatter(table, x, y, title=f"{y} against {x}")
        for name, x, y in planes_drawn
        if x in header and y in header
    }
    run.log(
        {"tradeoff": table} | scatters | {f"plots/{p.stem}": wandb.Image(str(p)) for p in figures if p.suffix == ".png"}
    )
    run.finish()


def table_cell(value):
    """A W&B table cell: NaN, ±inf and their string forms become empty (W&B's JSON has no NaN)."""
    number = value if isinstance(value, float) else None
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return None
    return None if number is not None and not math.isfinite(number) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradeoffs-curve", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dirs", type=Path, nargs="+", metavar="SWEEP_DIR", help="a sweep; more are drawn beside")
    parser.add_argument("--x", default="val/perception/fd", help="perception key of the perception–distortion plane")
    parser.add_argument("--y", default=SUBSET_MSE, help="distortion key of the perception–distortion plane")
    parser.add_argument("--out", type=Path, help="output directory (default: the first sweep directory)")
    parser.add_argument("--epochs", action="store_true", help="also collect every epoch and draw each job's path")
    parser.add_argument("--wandb", default="offline", choices=["offline", "online", "disabled"])
    parser.add_argument(
        "--front-across", action="store_true", help="draw Pareto fronts across runs measured on different data"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = args.out or args.sweep_dirs[0]
        result = make_curves(args.sweep_dirs, out, args.x, args.y, args.epochs, args.wandb, args.front_across)
    except (FileNotFoundError, KeyError) as error:
        print(f"tradeoffs-curve: error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in [result["table"], *result["figures"]]))
    print(f"jobs: {result['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
