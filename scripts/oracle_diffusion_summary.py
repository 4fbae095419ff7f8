"""`make oracle-diffusion`'s targets: one diffusion model on the Gaussian oracle against its closed forms (MATH.md §9).

    .venv/bin/python scripts/oracle_diffusion_summary.py logs/oracle_diffusion [--check]

Reads the curve tool's `steps/tradeoff.csv` (sampling steps and the mean of k full-sampler draws). The one-step
estimate x̂0(x_T, T, y) is the MMSE estimate: MSE/D* ≤ 1.02 and U1/N(X|Y) within 10 % of 1. The full sampler is a
posterior sampler: MSE/(2·D*) within 5 %, W2 ≤ 2 × the real-vs-real floor, U1/N(X|Y) within 10 % of 2. The mean of
k = 2, 4, 8 draws: MSE/(D*·(1 + 1/k)) within 3 %, and W2 within 2 floors of the closed-form W2 of
N(μ, Σ_{X*} + Σ_{X|Y}/k). Per-pixel MSE and U1; W2 over the whole 4×4 image. --check exits 1 if a target is missed.
"""

import argparse
import csv
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf
from oracle_summary import MSE, W2, number, report_targets

from tradeoffs.theory.gaussian import GaussianDenoisingTheory, k_average_w2

FLOOR, U1 = "val/perception/w2_floor", "val/uncertainty/pooled"


def family(rows: list[dict], sweep: str) -> dict[int, dict]:
    chosen = {int(float(r["swept"])): r for r in rows if r["sweep"] == sweep and r["status"] == "finished"}
    if not chosen:
        raise SystemExit(f"oracle_diffusion_summary: no finished {sweep!r} jobs in the table")
    return dict(sorted(chosen.items()))


def problem(job_dir: Path):
    """(prior covariance, noise variance) of the Gaussian denoising task a job measured, from its stored config."""
    cfg = OmegaConf.load(job_dir / ".hydra" / "config.yaml")
    source, degradation = instantiate(cfg.data.source), instantiate(cfg.degradation)
    return source.covariance, degradation.low**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="the make oracle-diffusion directory (steps/, averaging/)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    table = args.directory / "steps" / "tradeoff.csv"
    if not table.is_file():
        raise SystemExit(f"oracle_diffusion_summary: {table} is missing (run make oracle-diffusion first)")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    steps, averaging = family(rows, "steps"), family(rows, "averaging")
    one, full = steps[min(steps)], steps[max(steps)]
    prior, noise_var = problem(args.directory / "steps" / one["job"])
    theory = GaussianDenoisingTheory.from_prior(prior, noise_var)
    mmse, n_xy = theory.mmse / theory.dim, theory.inherent_uncertainty

    print(f"D*/d = {mmse:.6g}, P* = {theory.perfect_perception_distance:.6g}, N(X|Y) = {n_xy:.6g}")
    print("job         MSE/D*   W2/P*  W2/floor  U1/N(X|Y)")
    for r in [*steps.values(), *averaging.values()]:
        print(
            f"{r['label']:11s} {number(r, MSE) / mmse:6.4f}  {number(r, W2) / theory.perfect_perception_distance:6.3f}"
            f"  {number(r, W2) / number(r, FLOOR):8.2f}  {number(r, U1) / n_xy:9.3f}"
        )
    results = [
        ("one step: MSE/D*", number(one, MSE) / mmse, lambda v: v <= 1.02, "≤ 1.02"),
        ("one step: U1/N(X|Y)", number(one, U1) / n_xy, lambda v: abs(v - 1) <= 0.1, "1 ± 0.1"),
        ("full sampler: MSE/(2D*)", number(full, MSE) / (2 * mmse), lambda v: abs(v - 1) <= 0.05, "1 ± 0.05"),
        ("full sampler: W2/floor", number(full, W2) / number(full, FLOOR), lambda v: v <= 2, "≤ 2"),
        ("full sampler: U1/N(X|Y)", number(full, U1) / n_xy, lambda v: abs(v / 2 - 1) <= 0.1, "2 ± 0.2"),
    ]
    for k in (2, 4, 8):
        row = averaging[k]
        results.append(
            (
                f"k = {k}: MSE/(D*(1 + 1/k))",
                number(row, MSE) / (mmse * (1 + 1 / k)),
                lambda v: abs(v - 1) <= 0.03,
                "1 ± 0.03",
            )
        )
        expected = k_average_w2(prior, noise_var, k)
        results.append(
            (
                f"k = {k}: (W2 − {expected:.4f})/floor",
                (number(row, W2) - expected) / number(row, FLOOR),
                lambda v: abs(v) <= 2,
                "|·| ≤ 2",
            )
        )
    missed = report_targets(results)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
