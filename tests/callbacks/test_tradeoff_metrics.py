"""TradeoffMetrics on experiment=smoke: every key once per epoch, files, closed forms, bad input."""

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torchvision
from hydra.utils import instantiate

from tests.conftest import photo_datamodule
from tradeoffs.callbacks.tradeoff_metrics import PANEL_SAMPLES_FILE, TradeoffMetrics
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.errors import ConfigError, EstimatorInputError
from tradeoffs.metrics.functional import gaussian_entropy_power
from tradeoffs.metrics.weights import ALEXNET, cached_weights
from tradeoffs.models.gan import GANRestorer
from tradeoffs.theory.gaussian import posterior_covariance
from tradeoffs.train import train

pytestmark = pytest.mark.slow

ALWAYS = [
    "val/distortion/mse",
    "val/distortion/psnr",
    "val/distortion/ssim",
    "val/distortion/mse_subset",
    "val/distortion/psnr_subset",
    "val/distortion/ssim_subset",
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
            r"d = C·p·p = 144 needs more than 144 error patches .* got 8: .* \(2 images × 1 samples × 4 patches\)",
        ),
        (["metrics.features=clip"], "metrics.features must be patches, random_conv or inception"),
    ],
)
def test_bad_metric_settings_fail_before_training(train_config, overrides, message):
    cfg = train_config(*overrides)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


def test_non_finite_restorations_stop_with_a_clear_message(train_config, monkeypatch):
    original = GANRestorer.restore

    def broken(self, y, num_samples=1, generator=None):
        return original(self, y, num_samples, generator) * float("nan")

    monkeypatch.setattr(GANRestorer, "restore", broken)
    with pytest.raises(EstimatorInputError, match="the restorations hold NaN or infinite values"):
        train(train_config("trainer.max_epochs=1"))


class ShiftedObservation(pl.LightningModule):
    """Sample k of observation y is y + step·k: with step 0 every sample is the observation itself."""

    def __init__(self, sigma: float, step: float = 0.0) -> None:
        super().__init__()
        self.degradation, self.step = GaussianNoise(sigma), step

    def restore(self, y, num_samples=1, generator=None):
        return y.unsqueeze(1) + self.step * torch.arange(num_samples, dtype=y.dtype).view(1, -1, 1, 1, 1)

    def eval_generator(self, *keys):
        return None


def test_a_perfect_restorer_scores_exactly_the_floor():
    """With y = x and restore(y) = y, perception equals the real-vs-real floor and uncertainty is zero."""
    datamodule, identity = photo_datamodule(num_val=16, sigma=0.0), ShiftedObservation(0.0)
    callback = TradeoffMetrics("unused", num_images=8, num_samples=2, patch_size=2, kid_subsets=3, batch_size=3)
    callback.setup(SimpleNamespace(datamodule=datamodule), identity, "fit")
    values, _, maps = callback.measure(identity)
    assert maps is None  # no hallucination map: not a fusion restorer
    floor = callback.perception_floor(torch.device("cpu"))
    for name in ("fd", "renyi", "kid", "swd"):
        assert values[f"val/perception/{name}"] == pytest.approx(floor[f"val/perception/{name}_floor"], abs=1e-9)
    assert floor["val/perception/fd_floor"] > 0
    assert values["val/uncertainty/mse"] == 0 and values["val/uncertainty/pooled"] == 0


def test_the_subset_distortion_comes_from_the_images_and_samples_perception_sees():
    """`*_subset` is the one-sample distortion of the metrics subset, not of the whole validation set."""
    datamodule, shifted = photo_datamodule(num_val=24), ShiftedObservation(0.1, step=0.01)
    callback = TradeoffMetrics("unused", num_images=8, num_samples=3, patch_size=2, kid_subsets=3, batch_size=3)
    callback.setup(SimpleNamespace(datamodule=datamodule), shifted, "fit")
    values, samples, _ = callback.measure(shifted)
    subset_mse = (callback.y - callback.x).square().mean().item()
    whole_mse = (datamodule.val_pairs.y - datamodule.val_pairs.x).square().mean().item()
    assert values["val/distortion/mse_subset"] == pytest.approx(subset_mse, rel=1e-5)
    assert abs(subset_mse - whole_mse) > 1e-5  # a different set of images: the two keys differ
    # all K samples: the shifts add (0² + 0.01² + 0.02²)/3 to the subset's MSE, plus the cross term
    offsets = 0.01 * torch.arange(3).view(1, -1, 1, 1, 1)
    all_k = (callback.y.unsqueeze(1) + offsets - callback.x.unsqueeze(1)).square().mean().item()
    assert values["val/uncertainty/mse"] == pytest.approx(all_k, rel=1e-5)
    assert torch.equal(samples[:, 0], callback.y[: callback.panel_images])


def test_the_panel_samples_file_holds_the_last_epochs_panel(tmp_path):
    datamodule = photo_datamodule(num_val=8)
    callback = TradeoffMetrics(str(tmp_path), num_images=4, num_samples=2, patch_size=2, kid_subsets=3, panel_images=3)
    module = SimpleNamespace(degradation=GaussianNoise(0.1), device=torch.device("cpu"))
    callback.setup(SimpleNamespace(datamodule=datamodule), module, "fit")
    samples = torch.rand(3, 2, 1, 16, 16)
    for epoch in (0, 1):
        callback.log_panel(SimpleNamespace(loggers=[], global_step=0), module, samples + epoch, epoch, None)
    with np.load(tmp_path / PANEL_SAMPLES_FILE) as saved:
        assert int(saved["epoch"]) == 1
        np.testing.assert_array_equal(saved["samples"], (samples + 1).numpy())
        np.testing.assert_array_equal(saved["clean"], callback.x[:3].numpy())
        np.testing.assert_array_equal(saved["observation"], callback.y[:3].numpy())
