import gzip
import logging
import os
import shutil
import struct
import time
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.data.digits import Digits
from tradeoffs.data.folder import ImageFolder
from tradeoffs.data.gaussian import GaussianImages, exponential_covariance
from tradeoffs.data.images import to_channels
from tradeoffs.data.natural import NaturalPhotos, load_photo
from tradeoffs.data.torchvision_source import TorchvisionImages


def photo_of(crop: torch.Tensor, photos: dict[str, torch.Tensor]) -> set[str]:
    """Names of the photos that contain `crop` exactly (candidates from the top-left pixel, then a full check)."""
    size, found = crop.shape[-1], set()
    for name, photo in photos.items():
        candidates = (photo == crop[:, :1, :1]).all(dim=0).nonzero().tolist()
        if any(torch.equal(photo[:, i : i + size, j : j + size], crop) for i, j in candidates):
            found.add(name)
    return found


def test_natural_validation_crops_come_only_from_validation_photos():
    source = NaturalPhotos(crop_size=24, channels=3, val_photos=["astronaut", "china"], num_val=6, augment=False)
    assert set(source.train_names).isdisjoint(source.val_names)
    photos = {n: to_channels(load_photo(n), 3) for n in source.train_names + source.val_names}
    for crop in source.validation_images():
        assert photo_of(crop, photos) <= {"astronaut", "china"} and photo_of(crop, photos)
    for i in range(4):
        found = photo_of(source.sample(generator_for(i)), photos)
        assert found and found.isdisjoint({"astronaut", "china"})


def test_natural_is_deterministic_and_in_range():
    a, b = (NaturalPhotos(crop_size=32, channels=1, num_val=5) for _ in range(2))
    torch.testing.assert_close(a.validation_images(), b.validation_images())
    torch.testing.assert_close(a.sample(generator_for(7)), b.sample(generator_for(7)))
    x = a.validation_images()
    assert x.shape == (5, 1, 32, 32) and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crop_size": 1000}, "data.source.crop_size=1000"),
        ({"crop_size": 32, "val_photos": ["lena"]}, "data.source.val_photos"),
        ({"crop_size": 32, "channels": 3, "val_photos": ["camera"]}, "data.source.val_photos"),
        ({"crop_size": 32, "channels": 2}, "data.source.channels"),
    ],
)
def test_natural_bad_input(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        NaturalPhotos(**kwargs)


def test_folder_reads_tree_and_skips_corrupt_files_with_one_warning(image_folder, caplog):
    with caplog.at_level(logging.WARNING):
        source = ImageFolder(str(image_folder), crop_size=64, val_fraction=0.4, channels=3)
    warnings = [r for r in caplog.records if "unreadable or corrupt" in r.getMessage()]
    assert len(warnings) == 1 and "skipped 1 " in warnings[0].getMessage()
    assert len(source.files) + len(source.val_files) == 5  # PNG, JPEG and BMP, in subfolders; broken.png skipped
    assert set(source.files).isdisjoint(source.val_files)
    val = source.validation_images()
    assert val.shape == (len(source.val_files), 3, 64, 64)
    torch.testing.assert_close(val, source.validation_images())
    assert source.sample(generator_for(1)).shape == (3, 64, 64)


def test_folder_greyscale_conversion(image_folder):
    source = ImageFolder(str(image_folder), crop_size=32, val_root=str(image_folder / "a"), channels=1)
    assert source.sample(generator_for(0)).shape == (1, 32, 32)


def test_folder_bad_input(image_folder, tmp_path):
    with pytest.raises(ConfigError, match="data.source.root=.*no such directory"):
        ImageFolder(str(tmp_path / "missing"), crop_size=32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="data.source.root=.*no readable"):
        ImageFolder(str(tmp_path / "empty"), crop_size=32)
    with pytest.raises(ConfigError, match=r"data.source.crop_size=512 is larger than image .*\(160x200\)"):
        ImageFolder(str(image_folder), crop_size=512)


def test_gaussian_source_matches_its_covariance():
    source = GaussianImages(crop_size=4, channels=1, mean=0.5, std=0.1, correlation_length=2.0, num_val=20000)
    x = source.validation_images().flatten(1).double()
    sample_cov = torch.cov(x.T)
    torch.testing.assert_close(sample_cov, source.covariance, atol=4e-4, rtol=0)
    torch.testing.assert_close(x.mean(0), source.mean, atol=2e-3, rtol=0)
    # exponential correlation between neighbouring pixels: σ² e^{-1/ℓ}
    assert source.covariance[0, 1].item() == pytest.approx(0.01 * np.exp(-0.5))
    torch.testing.assert_close(exponential_covariance(3, 1.0, 0), torch.eye(9, dtype=torch.float64))


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    with gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    """MNIST's raw IDX files with 20 train / 10 test images of random digits-sized noise."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 10)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 2051)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, (n,), dtype=np.uint8), 2049)
    return tmp_path


def test_torchvision_source_reads_local_mnist(fake_mnist):
    source = TorchvisionImages("MNIST", str(fake_mnist), channels=1, crop_size=24, num_val=4)
    assert source.validation_images().shape == (4, 1, 24, 24)
    assert source.sample(generator_for(0)).shape == (1, 24, 24)
    rgb = TorchvisionImages("MNIST", str(fake_mnist), channels=3, num_val=4)
    assert rgb.validation_images().shape == (4, 3, 28, 28)


def test_torchvision_source_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(ConfigError, match="data.source.root=.*MNIST not found.*data.source.download=true"):
        TorchvisionImages("MNIST", str(tmp_path))
    with pytest.raises(ConfigError, match="data.source.name"):
        TorchvisionImages("ImageNet", str(tmp_path))


def test_digits_are_sklearns_images_split_once_for_every_seed():
    raw = torch.from_numpy(load_digits().images).float() / 16
    a, b = Digits(num_val=600), Digits(num_val=600)
    val = a.validation_images()
    assert val.shape == (600, 1, 8, 8) and len(a.train) == len(raw) - 600
    assert torch.equal(val, b.validation_images()) and torch.equal(a.train, b.train)  # the split ignores the seed

    def counts(images):
        return Counter(x.numpy().tobytes() for x in images)

    assert counts(torch.cat([a.train, val])) == counts(raw.unsqueeze(1))  # a partition: each digit once
    draws = [a.sample(generator_for(i)) for i in range(5)]
    assert all(d.shape == (1, 8, 8) and any(torch.equal(d, t) for t in a.train) for d in draws)
    assert torch.equal(draws[0], a.sample(generator_for(0)))
    up = Digits(num_val=10, upscale=2).validation_images()
    assert up.shape == (10, 1, 16, 16) and 0 <= up.min() and up.max() <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_val": 0}, r"data.source.num_val=0 must be in \[1, 1796\]"),
        ({"num_val": 1797}, "num_val=1797"),
        ({"upscale": 0}, "data.source.upscale=0 must be >= 1"),
        ({"channels": 3}, "data.source.channels=3: the digits are grey"),
    ],
)
def test_digits_bad_input(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Digits(**kwargs)


def test_a_folder_test_set_is_separate_from_validation(image_folder):
    source = ImageFolder(
        str(image_folder), crop_size=32, val_root=str(image_folder / "a"), test_root=str(image_folder / "b")
    )
    dm = RestorationDataModule(source, GaussianNoise(0.1), batch_size=2, samples_per_epoch=4)
    dm.setup("test")
    assert len(dm.pairs("test")) == 3 and len(dm.pairs("val")) == 2  # the readable photos of b/ and of a/
    assert not torch.equal(dm.pairs("test").x, dm.pairs("val").x)
    without = RestorationDataModule(
        ImageFolder(str(image_folder), crop_size=32), GaussianNoise(0.1), batch_size=2, samples_per_epoch=4
    )
    without.setup("test")
    assert without.pairs("test") is without.pairs("val")  # no test_root: split=test measures the validation set
    with pytest.raises(ConfigError, match="data.source.test_root=/no/such: no such directory"):
        ImageFolder(str(image_folder), crop_size=32, test_root="/no/such")


def test_the_decoded_cache_gives_the_same_crops_and_follows_file_changes(image_folder, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(image_folder, tree)
    cache = tmp_path / "cache"
    plain = ImageFolder(str(tree), crop_size=48, val_fraction=0.4)
    cached = ImageFolder(str(tree), crop_size=48, val_fraction=0.4, cache_dir=str(cache))
    for seed in range(6):
        draw = [s.sample(torch.Generator().manual_seed(seed)) for s in (plain, cached)]
        torch.testing.assert_close(draw[0], draw[1], rtol=0, atol=0)
    torch.testing.assert_close(plain.validation_images(), cached.validation_images(), rtol=0, atol=0)
    entries = sorted(cache.glob("*.npy"))
    assert 1 <= len(entries) <= len(cached.files)
    measured = []
    monkeypatch.setattr("tradeoffs.data.folder.image_size", lambda p: measured.append(p) or (160, 200))
    again = ImageFolder(str(tree), crop_size=48, val_fraction=0.4, cache_dir=str(cache))
    assert measured == [] and again.files == cached.files  # the scan came from the cache
    changed = cached.files[0]
    Image.fromarray(np.full((160, 200, 3), 7, np.uint8)).save(changed, format=Image.open(changed).format)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    ImageFolder(str(tree), crop_size=48, val_fraction=0.4, cache_dir=str(cache))
    assert measured == [changed]  # only the changed file is opened again
    monkeypatch.undo()
    fresh = cached.cache.array(changed, 3)
    assert (np.asarray(fresh) == 7).all() and sorted(cache.glob("*.npy")) != entries  # a new entry, not the stale
