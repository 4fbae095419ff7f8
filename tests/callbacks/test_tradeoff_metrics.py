"""TradeoffMetrics on experiment=smoke: every key once per epoch, files, closed forms, bad input."""

import csv
import json
from pathlib import Path

import pytest
import torch
import torchvision
from hydra.utils import instantiate

from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.errors import ConfigError
from tradeoffs.metrics.functional import gaussian_entropy_power
from tradeoffs.metrics.weights import ALEXNET, cached_weights
from tradeoffs.theory.gaussian import posterior_covariance
from tradeoffs.train import train

pytestmark = pytest.mark.slow

ALWAYS = [
    "val/distortion/mse",
    "val/distortion/psnr",
    "val/distortion/ssim",
    "val/perception/fd",
    "val/perception/renyi",
    "val/perception/kid",
    "val/perception/kid_std",
    "val/perception/swd",
    "val/perception/fd_floor",
    "val/perception/renyi_floor",
    "val/perception/kid_floor",
    "val/perception/swd_floor",
    "val/uncertainty/pooled",
    "val/uncertainty/pooled_trace",
    "val/uncertainty/mse",
]
WITH_K = [
    "val/distortion/mse_mean_k",
    "val/distortion/psnr_mean_k",
    "val/distortion/ssim_mean_k",
    "val/uncertainty/spread",
    "val/uncertainty/mse_k_a",
    "val/uncertainty/mse_k_b",
    "val/uncertainty/pixel_std",
]
WITH_WEIGHTS = ["val/distortion/lpips", "val/distortion/lpips_mean_k", "val/perception/critic_w1"]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def cached_alexnet(tmp_path):
    """Random AlexNet weights in a temporary hub cache, so LPIPS runs offline."""
    original = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    cached_weights(ALEXNET[0]).parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), cached_weights(ALEXNET[0]))
    yield
    torch.hub.set_dir(original)


def test_every_key_is_logged_once_per_epoch(train_config, cached_alexnet):
    cfg = train_config(
        "data.source.crop_size=32", "metrics.lpips=true", "metrics.critic_every_n_epochs=1", "metrics.critic_steps=10"
    )
    results = train(cfg)
    run = Path(cfg.paths.output_dir)
    expected = ALWAYS + WITH_K + WITH_WEIGHTS
    logged = rows(run / "metrics.csv")
    for key in expected:
        epochs = [r["epoch"] for r in logged if r.get(key)]
        assert epochs == ["0", "1"], key
    table = rows(run / "tradeoff_epochs.csv")
    assert [r["epoch"] for r in table] == ["0", "1"]
    assert set(expected) - set(ALWAYS[:3]) <= set(table[0])
    assert set(expected) <= set(results["metrics"])
    m = results["metrics"]
    assert 0 < m["val/uncertainty/pooled"] <= m["val/uncertainty/pooled_trace"] <= m["val/uncertainty/mse"]
    assert (run / "images" / "val_epoch001.png").is_file()


def test_single_sample_skips_the_k_sample_estimates_with_a_warning(train_config):
    with pytest.warns(UserWarning, match="metrics.num_samples=1: spread, mse_k_a"):
        results = train(train_config("metrics.num_samples=1", "trainer.max_epochs=1"))
    assert set(ALWAYS) <= set(results["metrics"])
    assert not set(WITH_K) & set(results["metrics"])


def test_gaussian_source_logs_the_closed_forms(train_config):
    cfg = train_config(
        "data=gaussian",
        "data.source.num_val=64",
        "data.samples_per_epoch=64",
        "data.batch_size=32",
        "metrics.num_images=32",
        "metrics.patch_size=2",
        "trainer.max_epochs=1",
    )
    results = train(cfg)
    source = instantiate(cfg.data.source)
    assert isinstance(source, GaussianImages)
    post = posterior_covariance(source.covariance, cfg.degradation.sigma**2)
    assert results["metrics"]["val/uncertainty/inherent"] == pytest.approx(gaussian_entropy_power(post).item())
    assert results["metrics"]["val/distortion/mmse"] == pytest.approx(post.trace().item() / source.dim)
    assert json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())["metrics"] == results["metrics"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["metrics.num_images=100"], "metrics.num_images=100 exceeds the 8 validation images"),
        (["metrics.patch_size=32"], "metrics.patch_size=32 is larger than the 24x24 validation images"),
        (
            ["metrics.patch_size=12", "metrics.num_images=2", "metrics.num_samples=1"],
            r"d = C·p² = 144 needs more than 144 error patches; .* = 2·1·4 = 8",
        ),
        (["metrics.features=clip"], "metrics.features must be patches, random_conv or inception"),
    ],
)
def test_bad_metric_settings_fail_before_training(train_config, overrides, message):
    cfg = train_config(*overrides)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()
