"""`make oracle`'s targets, read from the curve tool's tradeoff.csv of the Gaussian sweep (and its Freirich family).

    .venv/bin/python scripts/oracle_summary.py logs/oracle/sweep [--check]

Prints, against the closed forms of the sweep's own Gaussian problem: λ = 0's MSE over D* and W2 over P*; the
real-vs-real W2 floor over P*; the largest excess_over_bound = (MSE − D(P))/(D(0) − D*) of an admissible sweep point;
how much of [0, P*] the sweep's W2 spans; the smallest U1/U(P) (U(P) is a lower bound: a ratio under 1 means an
estimator is off); the largest |excess| of the Freirich family. --check exits 1 if a target is missed.
"""

import argparse
import csv
import sys
from pathlib import Path

from tradeoffs.curves.theory_overlay import overlay_for

W2, MSE = "val/perception/w2", "val/distortion/mse_subset"


def number(row: dict, key: str) -> float:
    return float(row[key]) if row.get(key) not in (None, "") else float("nan")


def report_targets(results: list[tuple]) -> int:
    """Print each (name, value, holds, target) as ok or MISS; the number missed."""
    missed = 0
    for name, value, holds, target in results:
        ok = holds(value)
        missed += not ok
        print(f"  {'ok  ' if ok else 'MISS'} {name:36s} {value:+.4f}  (target {target})")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    with open(args.sweep_dir / "tradeoff.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "finished"]
    sweep = sorted((r for r in rows if r["sweep"] == args.sweep_dir.name), key=lambda r: number(r, "swept"))
    family = [r for r in rows if r["sweep"] != args.sweep_dir.name]
    overlay = overlay_for(args.sweep_dir / sweep[0]["job"])
    if overlay is None:
        print(f"{args.sweep_dir}: not a Gaussian denoising sweep (no closed form)", file=sys.stderr)
        return 2
    p_star, mmse = overlay.theory.perfect_perception_distance, overlay.mmse
    base = sweep[0]
    admissible = [r for r in sweep if r.get("admissible_perception_distortion") == "True"]
    results = [
        ("λ = 0: MSE/D* − 1", number(base, MSE) / mmse - 1, lambda v: abs(v) <= 0.01, "|·| ≤ 0.01"),
        ("λ = 0: W2/P* − 1", number(base, W2) / p_star - 1, lambda v: abs(v) <= 0.05, "|·| ≤ 0.05"),
        ("W2 floor/P*", number(base, W2 + "_floor") / p_star, lambda v: v <= 0.1, "≤ 0.1"),
        (
            "max excess_over_bound (admissible)",
            max(number(r, "excess_over_bound") for r in admissible),
            lambda v: v <= 0.1,
            "≤ 0.1",
        ),
        ("W2 span: 1 − min W2/P*", 1 - min(number(r, W2) for r in sweep) / p_star, lambda v: v >= 0.75, "≥ 0.75"),
        ("min U1/U(P)", min(number(r, "uncertainty_over_bound") for r in sweep), lambda v: v >= 0.95, "≥ 0.95"),
    ]
    if family:
        worst = max(abs(number(r, "excess_over_bound")) for r in family)
        results.append(("Freirich family: max |excess|", worst, lambda v: v <= 0.05, "≤ 0.05"))
    print(f"D*/d = {mmse:.6g}, P* = {p_star:.6g}, N(X|Y) = {overlay.theory.inherent_uncertainty:.6g}")
    print("job        W2/P*   MSE/D*   excess  U1/U(P)")
    for r in sweep + family:
        print(
            f"{r['label']:10s} {number(r, W2) / p_star:6.3f}  {number(r, MSE) / mmse:7.4f}  "
            f"{number(r, 'excess_over_bound'):+6.3f}  {number(r, 'uncertainty_over_bound'):6.3f}"
        )
    missed = report_targets(results)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
