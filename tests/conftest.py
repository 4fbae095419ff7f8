"""Shared fixtures: offline W&B in a temp dir, composed real configs shrunk for tests, generated image folders."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import skimage.data
import torch
from omegaconf import DictConfig
from PIL import Image

from tradeoffs.assemble import compose_config
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import Degradation, GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.data.natural import NaturalPhotos

_scratch = tempfile.mkdtemp(prefix="tradeoffs-tests-")
for key, sub in (
    ("WANDB_DIR", "wandb"),
    ("WANDB_CACHE_DIR", "wandb-cache"),
    ("WANDB_CONFIG_DIR", "wandb-config"),
    ("WANDB_DATA_DIR", "wandb-data"),
    ("TORCH_HOME", "torch"),
):
    os.environ.setdefault(key, os.path.join(_scratch, sub))
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
torch.set_num_threads(min(2, torch.get_num_threads()))

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))
QUIET = ["~callbacks.progress_bar", "++trainer.enable_progress_bar=false", "++trainer.enable_model_summary=false"]


@pytest.fixture
def train_config(tmp_path):
    """train_config(*overrides, run="run", experiment="smoke") -> a smoke experiment's config with extra overrides,
    quiet."""

    def make(*overrides: str, run: str = "run", experiment: str = "smoke") -> DictConfig:
        return compose_config("train", [f"experiment={experiment}", *QUIET, *overrides], tmp_path / run)

    return make


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """A folder tree of real photos (PNG, JPEG, BMP in subfolders), plus one corrupt file."""
    root = tmp_path_factory.mktemp("images")
    photos = {
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "chelsea": skimage.data.chelsea(),
        "camera": skimage.data.camera(),
    }
    for i, (name, array) in enumerate(photos.items()):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        ext = (".png", ".jpg", ".bmp")[i % 3]
        Image.fromarray(np.asarray(array)[:160, :200]).save(folder / f"{name}{ext}")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "notes.txt").write_text("not an image")
    return root


def gaussian_denoising(correlation_length: float, num: int = 4000, seed: int = 1):
    """(source, degradation, x, y): 1×4×4 Gaussian images with σ_x = 0.1 under noise σ_n = 0.1."""
    source = GaussianImages(crop_size=4, std=0.1, correlation_length=correlation_length, num_val=num)
    degradation = GaussianNoise(0.1)
    x = source.validation_images()
    return source, degradation, x, degradation(x, torch.Generator().manual_seed(seed))


def quiet_trainer(**kwargs) -> pl.Trainer:
    """A CPU Trainer with no logger, checkpoints, progress bar or model summary; kwargs add or override."""
    options = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return pl.Trainer(**options | kwargs)


def photo_datamodule(
    batch_size: int = 4,
    samples_per_epoch: int = 8,
    num_val: int = 4,
    sigma: float = 0.1,
    degradation: Degradation | None = None,
    channels: int = 1,
) -> RestorationDataModule:
    """16×16 crops of the bundled photos (grey by default) under σ noise or `degradation`, set up for fitting."""
    source = NaturalPhotos(crop_size=16, channels=channels, num_val=num_val)
    degradation = degradation or GaussianNoise(sigma)
    dm = RestorationDataModule(source, degradation, batch_size=batch_size, samples_per_epoch=samples_per_epoch)
    dm.setup("fit")
    return dm
