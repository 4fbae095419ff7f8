"""Reproducible randomness: every random draw is a pure function of (seed, stream, index).

Training pairs depend only on (seed, epoch, index) and validation pairs on (seed, index), so they are identical
across epochs, runs, dataloader workers and resumes from a checkpoint.
"""

from collections.abc import Iterator

import torch
from torch.utils.data import DistributedSampler

_MASK = (1 << 63) - 1


def derive_seed(*keys: int) -> int:
    """Mix integer keys into one 63-bit seed (splitmix64 steps; stable across machines and Python versions)."""
    h = 0x9E3779B97F4A7C15
    for k in keys:
        h = (h ^ (int(k) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h & _MASK


def generator_for(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh torch.Generator seeded by `derive_seed(*keys)`."""
    return torch.Generator(device=device).manual_seed(derive_seed(*keys))


class EpochSampler(DistributedSampler):
    """Yields (epoch, index) pairs, shuffled by a permutation drawn from (seed, epoch); process `rank` of
    `num_replicas` takes every num_replicas-th pair of that permutation (equal counts, so DDP ranks stay in step).

    Lightning calls `set_epoch` at the start of every epoch (also after a resume), so the dataset can seed each item
    from (seed, epoch, index) without any global RNG state. Being a DistributedSampler, Lightning keeps it as it is
    under DDP instead of wrapping it (a wrapper would hide `set_epoch` from it).
    """

    def __init__(self, length: int, seed: int, shuffle: bool = True, num_replicas: int = 1, rank: int = 0) -> None:
        self.length, self.seed, self.shuffle, self.epoch = length, seed, shuffle, 0
        self.num_replicas, self.rank = num_replicas, rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length // self.num_replicas

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            order = torch.randperm(self.length, generator=generator_for(self.seed, self.epoch, 0x5A))
        else:
            order = torch.arange(self.length)
        mine = order[self.rank :: self.num_replicas][: len(self)]
        return iter((self.epoch, int(i)) for i in mine)


class ShardSampler(DistributedSampler):
    """Indices rank, rank + n, rank + 2n, ... of `length` items for process `rank` of n: every item exactly once
    over the processes (unlike DistributedSampler, which pads with repeats), for evaluation."""

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.length, self.num_replicas, self.rank = length, num_replicas, rank

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))
