"""The diffusion demo's claims (MATH.md §9), checked on each seed and quoted as ranges over seeds.

    .venv/bin/python scripts/demo_diffusion_summary.py logs/demo_diffusion [more seed dirs ...] [--gan GAN_SWEEP ...]

Each directory is one `make demo-diffusion` (its `steps/tradeoff.csv`, written by the curve tool, holds every
family); `--gan` names the GAN demo sweep of the same seeds, in the same order, for the one-step estimate's claim.
Per seed: over sampling steps S, ρ(S, fd) (perception improves with steps); the one-step estimate's MSE against
the λ = 0 GAN's (both estimate the MMSE); the full sampler's fd against the real-vs-real floor, its MSE against the
one-step MSE (a posterior sampler: 2·D*) and its MSE_k = a + b/k decomposition (a posterior sampler: a = b); over
the mean of k samples, ρ(k, fd) and ρ(k, MSE) (averaging walks back to the MMSE). Exits 1 if a claim fails.
"""

import argparse
import csv
import sys
from pathlib import Path

from scipy.stats import spearmanr

FD, FLOOR, MSE = "val/perception/fd", "val/perception/fd_floor", "val/distortion/mse_subset"
U1, A, B = "val/uncertainty/pooled", "val/uncertainty/mse_k_a", "val/uncertainty/mse_k_b"


def value(row: dict, key: str) -> float:
    return float(row[key])


def rho(rows: list[dict], key: str) -> float:
    return float(spearmanr([value(r, "swept") for r in rows], [value(r, key) for r in rows]).statistic)


def family(rows: list[dict], sweep: str) -> list[dict]:
    chosen = [r for r in rows if r["sweep"] == sweep and r["status"] == "finished"]
    if not chosen:
        raise SystemExit(f"demo_diffusion_summary: no finished {sweep!r} jobs in the table")
    return sorted(chosen, key=lambda r: value(r, "swept"))


def read_table(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"demo_diffusion_summary: {path} is missing (run make demo-diffusion first)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def gan_mmse(sweep_dir: Path) -> float:
    """MSE of the GAN demo's λ = 0 job."""
    rows = [r for r in read_table(sweep_dir / "tradeoff.csv") if r["sweep"] == sweep_dir.name]
    return value(next(r for r in rows if value(r, "swept") == 0), MSE)


def seed_values(directory: Path, gan: Path | None) -> dict[str, float]:
    rows = read_table(directory / "steps" / "tradeoff.csv")
    steps, averaging = family(rows, "steps"), family(rows, "averaging")
    one, full = steps[0], steps[-1]
    values = {
        "rho_steps_fd": rho(steps, FD),
        "full_fd_over_floor": value(full, FD) / value(full, FLOOR),
        "full_mse_over_one_step": value(full, MSE) / value(one, MSE),
        "full_a_over_b": value(full, A) / value(full, B),
        "u1_full_over_one_step": value(full, U1) / value(one, U1),
        "rho_k_fd": rho(averaging, FD),
        "rho_k_mse": rho(averaging, MSE),
    }
    if gan is not None:
        values["one_step_mse_over_gan"] = value(one, MSE) / gan_mmse(gan)
    print(f"{directory}: steps {', '.join(r['swept'] for r in steps)}; k {', '.join(r['swept'] for r in averaging)}")
    print("  steps fd  " + " ".join(f"{value(r, FD):.4f}" for r in steps) + f"  (floor {value(one, FLOOR):.4f})")
    print("  steps MSE " + " ".join(f"{value(r, MSE):.4f}" for r in steps))
    print("  k     fd  " + " ".join(f"{value(r, FD):.4f}" for r in averaging))
    print("  k     MSE " + " ".join(f"{value(r, MSE):.4f}" for r in averaging))
    print("  " + ", ".join(f"{k} {v:.3g}" for k, v in values.items()))
    return values


# name, the claim it must meet (None: reported only), its wording
CLAIMS = [
    ("rho_steps_fd", lambda v: v <= -0.9, "ρ(steps, fd) ≤ −0.9"),
    ("one_step_mse_over_gan", lambda v: abs(v - 1) <= 0.05, "one-step MSE within 5 % of the λ = 0 GAN's"),
    ("full_fd_over_floor", lambda v: v <= 3, "full sampler fd ≤ 3 × floor"),
    ("full_mse_over_one_step", lambda v: 1.7 <= v <= 2.2, "full sampler MSE / one-step MSE in [1.7, 2.2]"),
    ("full_a_over_b", lambda v: 0.8 <= v <= 1.25, "full sampler a/b in [0.8, 1.25]"),
    ("u1_full_over_one_step", None, "U1(full) / U1(one step) (theory: 2)"),
    ("rho_k_fd", lambda v: v >= 0.9, "ρ(k, fd) ≥ +0.9"),
    ("rho_k_mse", lambda v: v <= -0.9, "ρ(k, MSE) ≤ −0.9"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--gan", nargs="*", type=Path, default=[])
    args = parser.parse_args(argv)
    if args.gan and len(args.gan) != len(args.dirs):
        parser.error(f"--gan names {len(args.gan)} sweeps for {len(args.dirs)} diffusion directories")
    gans = args.gan or [None] * len(args.dirs)
    return check_claims([seed_values(d, g) for d, g in zip(args.dirs, gans, strict=True)], CLAIMS)


def check_claims(per_seed: list[dict[str, float]], claims) -> int:
    """Print each claim's range over seeds (FAIL when a seed misses it); 1 if any claim failed, else 0."""
    failed = 0
    print(f"over {len(per_seed)} seeds:")
    for name, holds, claim in claims:
        found = [v[name] for v in per_seed if name in v]
        if not found:
            print(f"  skip {claim} (not measured)")
            continue
        ok = holds is None or all(holds(v) for v in found)
        failed += not ok
        mark = "    " if holds is None else ("ok  " if ok else "FAIL")
        print(f"  {mark} {claim:48s} {name} in [{min(found):.3g}, {max(found):.3g}]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
