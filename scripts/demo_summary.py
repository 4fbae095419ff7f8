"""The demo's claims, checked on each seed's sweep and quoted as ranges over seeds.

    .venv/bin/python scripts/demo_summary.py logs/demo_seeds/seed0/sweep logs/demo_seeds/seed1/sweep ...

Reads each sweep's tradeoff.csv (written by the curve tool). Per seed: Spearman ρ between λ and fd, MSE (one sample,
metrics subset), U1, U2 and pixel_std; the share of the λ = 0 model's Fréchet excess over the real-vs-real floor that
the largest λ leaves, (fd(λ_max) − floor)/(fd(0) − floor); the MSE growth from λ = 0 to λ_max. Exits 1 if a claim
fails on any seed.
"""

import csv
import sys
from pathlib import Path

from scipy.stats import spearmanr

FD, FLOOR, MSE = "val/perception/fd", "val/perception/fd_floor", "val/distortion/mse_subset"
U1, U2, STD = "val/uncertainty/pooled", "val/uncertainty/spread", "val/uncertainty/pixel_std"
# name, value of one seed's sweep (rows sorted by λ), the claim it must meet
CLAIMS = [
    ("rho_fd", lambda r, c: rho(r, FD), lambda v: v <= -0.9, "ρ(λ, fd) ≤ −0.9"),
    ("rho_mse", lambda r, c: rho(r, MSE), lambda v: v >= 0.9, "ρ(λ, MSE) ≥ +0.9"),
    (
        "excess_left",
        lambda r, c: (c(r[-1], FD) - c(r[0], FLOOR)) / (c(r[0], FD) - c(r[0], FLOOR)),
        lambda v: v <= 1 / 3,
        "(fd(λmax) − floor) ≤ ⅓·(fd(0) − floor)",
    ),
    ("mse_growth", lambda r, c: c(r[-1], MSE) / c(r[0], MSE) - 1, lambda v: v >= 0.3, "MSE(λmax)/MSE(0) − 1 ≥ 0.3"),
    ("rho_u1", lambda r, c: rho(r, U1), lambda v: v >= 0.9, "U1 grows with λ (ρ ≥ 0.9)"),
    ("rho_u2", lambda r, c: rho(r, U2), lambda v: v >= 0.9, "U2 grows with λ (ρ ≥ 0.9)"),
    ("rho_pixel_std", lambda r, c: rho(r, STD), lambda v: v >= 0.9, "pixel_std grows with λ (ρ ≥ 0.9)"),
    ("min_u2", lambda r, c: min(c(x, U2) for x in r), lambda v: v > 0, "U2 > 0 for every λ"),
    ("min_pixel_std", lambda r, c: min(c(x, STD) for x in r), lambda v: v > 0, "pixel_std > 0 for every λ"),
]


def column(row: dict, key: str) -> float:
    return float(row[key])


def rho(rows: list[dict], key: str) -> float:
    return float(spearmanr([column(r, "swept") for r in rows], [column(r, key) for r in rows]).statistic)


def sweep_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "tradeoff.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["sweep"] == sweep_dir.name and r["status"] == "finished"]
    return sorted(rows, key=lambda r: column(r, "swept"))


def main(sweep_dirs: list[str]) -> int:
    values = {name: [] for name, *_ in CLAIMS}
    for sweep_dir in map(Path, sweep_dirs):
        rows = sweep_rows(sweep_dir)
        line = []
        for name, value, _, _ in CLAIMS:
            values[name].append(value(rows, column))
            line.append(f"{name} {values[name][-1]:+.3g}")
        print(f"{sweep_dir}: λ = {', '.join(r['swept'] for r in rows)}")
        print("  fd  " + " ".join(f"{column(r, FD):.4f}" for r in rows) + f"  (floor {column(rows[0], FLOOR):.4f})")
        print("  MSE " + " ".join(f"{column(r, MSE):.4f}" for r in rows))
        print("  " + ", ".join(line))
    failed = 0
    print(f"over {len(sweep_dirs)} seeds:")
    for name, _, holds, claim in CLAIMS:
        ok = all(holds(v) for v in values[name])
        failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {claim:42s} {name} in [{min(values[name]):.3g}, {max(values[name]):.3g}]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
