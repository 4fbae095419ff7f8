import torch
from torch.utils.data import DistributedSampler

from tradeoffs.core.seeding import EpochSampler, ShardSampler
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import Compose, Downsample, GaussianNoise
from tradeoffs.data.natural import NaturalPhotos


def make(num_workers: int = 0, seed: int = 0) -> RestorationDataModule:
    source = NaturalPhotos(crop_size=32, channels=3, num_val=6)
    dm = RestorationDataModule(
        source,
        Compose([Downsample(2), GaussianNoise(0.05)]),
        batch_size=4,
        samples_per_epoch=8,
        num_workers=num_workers,
        seed=seed,
    )
    dm.setup("fit")
    return dm


def epoch_batches(dm: RestorationDataModule, epoch: int) -> list[dict]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # what Lightning does at every epoch start
    return list(loader)


def test_batch_shapes():
    dm = make()
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 3, 32, 32) and batch["y"].shape == (4, 3, 16, 16)
    assert len(dm.train_dataloader()) == 2 and len(dm.val_dataloader()) == 2


def test_validation_pairs_identical_across_datamodules_and_epochs():
    a, b = make(), make()
    first = [v["y"] for v in a.val_dataloader()]
    torch.testing.assert_close(a.val_pairs.y, b.val_pairs.y)
    torch.testing.assert_close(a.val_pairs.x, b.val_pairs.x)
    epoch_batches(a, 3)
    torch.testing.assert_close(torch.cat(first), torch.cat([v["y"] for v in a.val_dataloader()]))


def test_training_draws_depend_on_epoch_and_seed_only():
    a, b = make(), make()
    e1a, e1b, e2a = epoch_batches(a, 1), epoch_batches(b, 1), epoch_batches(a, 2)
    for p, q in zip(e1a, e1b, strict=True):
        torch.testing.assert_close(p["y"], q["y"])
    assert not torch.equal(e1a[0]["x"], e2a[0]["x"])
    assert not torch.equal(e1a[0]["x"], epoch_batches(make(seed=1), 1)[0]["x"])


def test_worker_processes_give_the_same_batches():
    serial, parallel = epoch_batches(make(), 4), epoch_batches(make(num_workers=2), 4)
    for p, q in zip(serial, parallel, strict=True):
        torch.testing.assert_close(p["x"], q["x"])
        torch.testing.assert_close(p["y"], q["y"])


def test_ddp_processes_share_an_epoch_s_draws_without_overlap():
    """Two processes take disjoint, equal halves of the single-process epoch; Lightning keeps a DistributedSampler
    as it is (a wrapper around a plain sampler would hide set_epoch from it, repeating epoch 0's draws)."""
    whole = EpochSampler(10, seed=3)
    ranks = [EpochSampler(10, seed=3, num_replicas=2, rank=r) for r in (0, 1)]
    for sampler in (whole, *ranks):
        sampler.set_epoch(4)
    halves = [list(s) for s in ranks]
    assert [len(h) for h in halves] == [5, 5] and not set(halves[0]) & set(halves[1])
    assert sorted(halves[0] + halves[1]) == sorted(whole) and all(epoch == 4 for epoch, _ in whole)
    assert all(isinstance(s, DistributedSampler) for s in ranks)
    uneven = [list(EpochSampler(7, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert [len(h) for h in uneven] == [3, 3]  # equal counts keep DDP ranks in step


def test_evaluation_shards_count_every_pair_once():
    shards = [list(ShardSampler(9, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(9))
    assert list(ShardSampler(9)) == list(range(9))
