"""Our perception estimators against the peers' on the same feature arrays, in one process.

    .venv/bin/python scripts/benchmark_estimators.py [--n 10000] [--dim 2048] [--prd-n 5000] [--repeats 2]

Draws two float32 arrays of n × dim features (correlated Gaussians with different means, seeded) and times, on
each, the functions the engine's measures call and the peers': the Fréchet distance (torchmetrics, torch-fidelity,
pytorch-fid), KID with 100 subsets of 1,000 (torchmetrics, torch-fidelity) and precision/recall with k = 3 on
prd-n + prd-n features (prdc, torch-fidelity). Prints each best-of-repeats time, its ratio to the fastest peer and
the largest difference of its values from ours (KID: each library draws its own subsets, so the means agree to
about their spread).
"""

import argparse
import contextlib
import io
import time

import numpy as np
import torch


def timed(function, repeats: int):
    """(best wall time of `repeats` calls, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def features(n: int, dim: int, seed: int, shift: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=g) / dim**0.5
    return (torch.randn(n, dim, generator=g) @ mixing + shift).float()


def frechet(real: torch.Tensor, fake: torch.Tensor) -> dict:
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torchmetrics.image.fid import _compute_fid

    from tradeoffs.core.gaussian import feature_sums, frechet_distance, gaussian_fit

    def torchmetrics():
        stats = [(f.double().mean(0), torch.cov(f.double().T)) for f in (real, fake)]
        return float(_compute_fid(stats[0][0], stats[0][1], stats[1][0], stats[1][1]))

    def fidelity():
        one, two = fid_features_to_statistics(real), fid_features_to_statistics(fake)
        return fid_statistics_to_metric(one, two, verbose=False)["frechet_inception_distance"]

    def pytorch_fid():
        a, b = real.numpy().astype(np.float64), fake.numpy().astype(np.float64)
        return float(calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))

    return {
        "ours": lambda: float(frechet_distance(*gaussian_fit(*feature_sums(real)), *gaussian_fit(*feature_sums(fake)))),
        "torchmetrics": torchmetrics,
        "torch-fidelity": fidelity,
        "pytorch-fid": pytorch_fid,
    }


def kid(real: torch.Tensor, fake: torch.Tensor) -> dict:
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torchmetrics.image.kid import poly_mmd

    from tradeoffs.metrics.functional import kernel_inception_distance

    def torchmetrics():  # KernelInceptionDistance.compute's loop, on the features
        g = torch.Generator().manual_seed(0)
        values = []
        for _ in range(100):
            i, j = torch.randperm(len(real), generator=g)[:1000], torch.randperm(len(fake), generator=g)[:1000]
            values.append(poly_mmd(real[i], fake[j]))
        return float(torch.stack(values).mean())

    def fidelity():
        out = kid_features_to_metric(real, fake, kid_subsets=100, kid_subset_size=1000, verbose=False, rng_seed=0)
        return out["kernel_inception_distance_mean"]

    def ours():
        return float(kernel_inception_distance(real, fake, 100, 1000, torch.Generator().manual_seed(0))[0])

    return {"ours": ours, "torchmetrics": torchmetrics, "torch-fidelity": fidelity}


def precision_recall(real: torch.Tensor, fake: torch.Tensor) -> dict:
    from prdc import compute_prdc
    from torch_fidelity.metric_prc import prc_features_to_metric

    from tradeoffs.metrics.precision_recall import precision_recall as ours

    def prdc():
        with contextlib.redirect_stdout(io.StringIO()):
            out = compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
        return float(out["precision"]), float(out["recall"])

    def fidelity():
        out = prc_features_to_metric(fake, real, prc_neighborhood=3, prc_batch_size=10000, verbose=False)
        return out["precision"], out["recall"]

    return {"ours": lambda: tuple(float(v) for v in ours(real, fake, k=3)), "prdc": prdc, "torch-fidelity": fidelity}


def report(name: str, candidates: dict, repeats: int) -> None:
    times, values = {}, {}
    for who, function in candidates.items():
        times[who], values[who] = timed(function, repeats)
    fastest_peer = min(t for who, t in times.items() if who != "ours")
    print(f"{name}:")
    for who in candidates:
        ours, theirs = np.atleast_1d(values["ours"]), np.atleast_1d(values[who])
        agreement = float(np.max(np.abs(ours - theirs)))
        shown = ", ".join(f"{v:.6g}" for v in theirs)
        print(
            f"  {who:15s} {times[who]:8.3f} s  {times[who] / fastest_peer:5.2f}× the fastest peer  value {shown}"
            f"  |ours − this| {agreement:.2g}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--prd-n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    real, fake = features(args.n, args.dim, 0, 0.0), features(args.n, args.dim, 1, 0.05)
    print(f"{args.n} × {args.dim} float32 features per set, torch threads: {torch.get_num_threads()}")
    report("Fréchet distance", frechet(real, fake), args.repeats)
    report("KID (100 subsets of 1,000)", kid(real, fake), args.repeats)
    report(
        f"precision/recall (k = 3, {args.prd_n} + {args.prd_n})",
        precision_recall(real[: args.prd_n], fake[: args.prd_n]),
        args.repeats,
    )


if __name__ == "__main__":
    main()
