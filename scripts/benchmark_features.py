"""Cost of the pretrained feature spaces on this machine: seconds per 1,000 images for each DINOv2 and CLIP backbone.

    .venv/bin/python scripts/benchmark_features.py [--images 32] [--size 64]

A backbone's cost does not depend on its weights, so each is built with random weights (no download); the images
(size × size, RGB) are resized to 224 px as for measurement. Prints the best of 2 passes over `images` images,
scaled to 1,000, beside the cost of the default `patches` space as the baseline.
"""

import argparse
import time

import torch

from tradeoffs.metrics.features import PatchFeatures, ViTFeatures

BACKBONES = [
    ("dinov2", "vit_small_patch14_dinov2.lvd142m"),
    ("dinov2", "vit_large_patch14_dinov2.lvd142m"),
    ("clip", "vit_base_patch32_clip_224.openai"),
    ("clip", "vit_large_patch14_clip_224.openai"),
]


def per_thousand(features: torch.nn.Module, images: torch.Tensor, batch: int = 16) -> float:
    best = float("inf")
    with torch.no_grad():
        for _ in range(2):
            start = time.perf_counter()
            for s in range(0, len(images), batch):
                features(images[s : s + batch])
            best = min(best, time.perf_counter() - start)
    return best * 1000 / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    images = torch.rand(args.images, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    baseline = per_thousand(PatchFeatures(3, 4), images)
    print(f"{args.images} images of {args.size}×{args.size}, torch threads: {torch.get_num_threads()}")
    print(f"  {'patches (4×4)':40s} {baseline:8.3f} s / 1,000 images")
    for space, model in BACKBONES:
        features = ViTFeatures(space, model, pretrained=False)
        cost = per_thousand(features, images)
        label, ratio = f"{space} {model}", cost / baseline
        print(f"  {label:40s} {cost:8.1f} s / 1,000 images  ({features.dim}-d; {ratio:,.0f}× patches)")


if __name__ == "__main__":
    main()
