"""The flow demo's claims (MATH.md §9), checked on each seed and quoted as ranges over seeds.

    .venv/bin/python scripts/demo_flow_summary.py logs/demo_flow_seeds/seed0 [more seed dirs ...]

Each directory is one `make demo-flow` whose `t_end/tradeoff.csv` (written by the curve tool) holds the flow's
t_end points and, when they existed, the diffusion demo's steps and the GAN demo's λ sweep of the same seed. Per
seed: the flow at t_end = 1 has fd ≤ 3 × the real-vs-real floor and a lower MSE than the diffusion full sampler
(a posterior sampler pays 2·D*, the flow D(0) = D* + P*² ≤ 2·D*); over t_end, ρ(t_end, fd) ≤ −0.9 and
ρ(t_end, MSE) ≥ +0.9 (one curve from the MMSE end to perfect perception). Reported: the flow against the GAN's
λ = 0.3 point, and U1, U2 and pixel_std of the flow beside the diffusion full sampler's. Exits 1 if a claim fails.
"""

import argparse
import sys
from pathlib import Path

from demo_diffusion_summary import FD, FLOOR, MSE, U1, check_claims, family, read_table, rho, value

U2, PIXEL_STD = "val/uncertainty/spread", "val/uncertainty/pixel_std"


def seed_values(directory: Path) -> dict[str, float]:
    rows = read_table(directory / "t_end" / "tradeoff.csv")
    flow = family(rows, "t_end")
    full = flow[-1]
    values = {
        "fd_over_floor": value(full, FD) / value(full, FLOOR),
        "rho_t_end_fd": rho(flow, FD),
        "rho_t_end_mse": rho(flow, MSE),
    }
    print(f"{directory}: t_end {', '.join(r['swept'] for r in flow)}")
    print("  t_end fd  " + " ".join(f"{value(r, FD):.4f}" for r in flow) + f"  (floor {value(full, FLOOR):.4f})")
    print("  t_end MSE " + " ".join(f"{value(r, MSE):.4f}" for r in flow))
    if any(r["sweep"] == "steps" for r in rows):
        sampler = family(rows, "steps")[-1]
        values["mse_over_diffusion"] = value(full, MSE) / value(sampler, MSE)
        values["fd_over_diffusion"] = value(full, FD) / value(sampler, FD)
        for key, name in ((U1, "u1"), (U2, "u2"), (PIXEL_STD, "pixel_std")):
            print(f"  {name}: flow {value(full, key):.4g}, diffusion full sampler {value(sampler, key):.4g}")
    gan = [r for r in rows if r["sweep"] == "sweep" and r["status"] == "finished" and value(r, "swept") == 0.3]
    if gan:
        values["mse_over_gan_0.3"] = value(full, MSE) / value(gan[0], MSE)
        values["fd_over_gan_0.3"] = value(full, FD) / value(gan[0], FD)
    print("  " + ", ".join(f"{k} {v:.3g}" for k, v in values.items()))
    return values


# name, the claim it must meet (None: reported only), its wording
CLAIMS = [
    ("fd_over_floor", lambda v: v <= 3, "t_end = 1: fd ≤ 3 × floor"),
    ("mse_over_diffusion", lambda v: v < 1, "t_end = 1: MSE below the diffusion full sampler's"),
    ("rho_t_end_fd", lambda v: v <= -0.9, "ρ(t_end, fd) ≤ −0.9"),
    ("rho_t_end_mse", lambda v: v >= 0.9, "ρ(t_end, MSE) ≥ +0.9"),
    ("fd_over_diffusion", None, "t_end = 1: fd / diffusion full sampler's fd"),
    ("mse_over_gan_0.3", None, "t_end = 1: MSE / GAN λ = 0.3's"),
    ("fd_over_gan_0.3", None, "t_end = 1: fd / GAN λ = 0.3's"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", type=Path, nargs="+", help="make demo-flow directories, one per seed")
    args = parser.parse_args(argv)
    return check_claims([seed_values(d) for d in args.directories], CLAIMS)


if __name__ == "__main__":
    sys.exit(main())
