"""The measurement engine and its Lightning adapter on experiment=smoke: every key once per epoch, files, closed
forms, floors from the same objects, bad input."""

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
from tests.models.test_gan import tiny_gan
from tradeoffs.assemble import instantiate as build
from tradeoffs.callbacks.panels import ImagePanels
from tradeoffs.callbacks.tradeoff_metrics import TradeoffMetrics, define_keys
from tradeoffs.core.errors import ConfigError, EstimatorInputError
from tradeoffs.core.runs import PANEL_SAMPLES_FILE
from tradeoffs.data.degradations import GaussianNoise
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.metrics.functional import gaussian_entropy_power
from tradeoffs.metrics.measure import Measured
from tradeoffs.metrics.measuring import measure, split_distortion
from tradeoffs.metrics.protocol import MeasuredRestorer
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
    "val/perception/precision",
    "val/perception/recall",
    "val/uncertainty/pooled",
    "val/uncertainty/pooled_trace",
    "val/uncertainty/mse",
]
FLOORS = [f"val/perception/{name}_floor" for name in ("fd", "renyi", "kid", "swd", "precision", "recall")]
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
        "data.source.crop_size=32",
        "metrics.measures.lpips.mode=true",
        "metrics.measures.lpips_mean_k.mode=true",
        "metrics.measures.critic_w1.every_n_epochs=1",
        "metrics.measures.critic_w1.steps=10",
    )
    results = train(cfg).as_dict()
    run = Path(cfg.paths.output_dir)
    expected = ALWAYS + WITH_K + WITH_WEIGHTS
    logged = rows(run / "metrics.csv")
    for key in expected:
        epochs = [r["epoch"] for r in logged if r.get(key)]
        assert epochs == ["0", "1"], key
    assert not set(FLOORS) & set(logged[0])  # constants are reported once (results.json, W&B summary)
    assert set(FLOORS) <= set(results["metrics"]) and set(FLOORS) <= set(rows(run / "tradeoff_epochs.csv")[0])
    table = rows(run / "tradeoff_epochs.csv")
    assert [r["epoch"] for r in table] == ["0", "1"]
    assert set(expected) - set(ALWAYS[:3]) <= set(table[0])
    assert set(expected) <= set(results["metrics"])
    m = results["metrics"]
    assert 0 < m["val/uncertainty/pooled"] <= m["val/uncertainty/pooled_trace"] <= m["val/uncertainty/mse"]
    assert (run / "images" / "val_epoch001.png").is_file()


def test_single_sample_skips_the_k_sample_estimates_with_a_warning(train_config):
    with pytest.warns(UserWarning, match=r"mse_mean_k, .*spread, mse_k_a, .* skipped: metrics.num_samples=1"):
        results = train(train_config("metrics.num_samples=1", "trainer.max_epochs=1"))
    assert set(ALWAYS) <= set(results.metrics)
    assert not set(WITH_K) & set(results.metrics)


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
    results = train(cfg).as_dict()
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
        (
            ["metrics.features=vgg"],
            "metrics.features must be one of patches, random_conv, inception, dinov2, clip, got .vgg.",
        ),
        (
            ["metrics.features=random_conv", "data.source.crop_size=8"],
            "metrics.features=random_conv needs images of at least 16 px, the validation images are 8x8",
        ),
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
    """Sample k of observation y is y + step·k: with step 0 every sample is the observation itself. Implements the
    measurement protocol and nothing else."""

    def __init__(self, sigma: float, step: float = 0.0) -> None:
        super().__init__()
        self.degradation, self.step = GaussianNoise(sigma), step

    def restore(self, y, num_samples=1, generator=None):
        return y.unsqueeze(1) + self.step * torch.arange(num_samples, dtype=y.dtype).view(1, -1, 1, 1, 1)

    def eval_generator(self, *keys):
        return None

    def auxiliary_maps(self, y, generator=None):
        return {}


def metrics_callback(train_config, *overrides: str) -> TradeoffMetrics:
    """The default metrics callback (every measure of conf/metrics/default.yaml), shrunk by overrides."""
    return TradeoffMetrics(build(train_config("metrics.measures.kid_swd.kid_subsets=3", *overrides).metrics))


def trainer_of(datamodule) -> SimpleNamespace:
    return SimpleNamespace(datamodule=datamodule, loggers=[], is_global_zero=True)


def prepared(callback: TradeoffMetrics, datamodule) -> TradeoffMetrics:
    callback.setup(trainer_of(datamodule), None, "fit")
    return callback


def test_a_perfect_restorer_scores_exactly_the_floor(train_config):
    """With y = x and restore(y) = y, every perception value equals its floor (the same measures fed x̂ = x) and
    uncertainty is zero."""
    datamodule, identity = photo_datamodule(num_val=16, sigma=0.0), ShiftedObservation(0.0)
    callback = metrics_callback(train_config, "metrics.num_images=8", "metrics.num_samples=2", "metrics.patch_size=2")
    values = prepared(callback, datamodule).engine.measure(identity, *callback.sets["val"]).values
    floors = [k for k in values if k.endswith("_floor")]
    assert {f.removeprefix("val/perception/").removesuffix("_floor") for f in floors} == {
        "fd",
        "renyi",
        "kid",
        "swd",
        "precision",
        "recall",
        "density",
        "coverage",
    }
    for floor in floors:
        assert values[floor.removesuffix("_floor")] == pytest.approx(values[floor], abs=1e-9)
    assert values["val/perception/fd_floor"] > 0
    assert values["val/uncertainty/mse"] == 0 and values["val/uncertainty/pooled"] == 0


def test_reference_features_and_floors_are_computed_once(train_config, monkeypatch):
    """The fixed reference set's features and the floors are cached: a second measurement extracts features of the
    restorations only."""
    datamodule, shifted = photo_datamodule(num_val=16), ShiftedObservation(0.1, step=0.01)
    callback = metrics_callback(train_config, "metrics.num_images=8", "metrics.patch_size=2", "metrics.batch_size=3")
    engine = prepared(callback, datamodule).engine
    first = engine.measure(shifted, *callback.sets["val"]).values
    calls = []
    original = type(engine.features).forward
    monkeypatch.setattr(
        type(engine.features), "forward", lambda self, images: calls.append(len(images)) or original(self, images)
    )
    second = engine.measure(shifted, *callback.sets["val"]).values
    assert second == first
    assert calls == [3, 3, 2]  # the 8 restorations in batches of 3; no reference or floor features again


def test_the_subset_distortion_comes_from_the_images_and_samples_perception_sees(train_config):
    """`*_subset` is the one-sample distortion of the metrics subset, not of the whole validation set."""
    datamodule, shifted = photo_datamodule(num_val=24), ShiftedObservation(0.1, step=0.01)
    callback = metrics_callback(
        train_config, "metrics.num_images=8", "metrics.num_samples=3", "metrics.patch_size=2", "metrics.batch_size=3"
    )
    x, y, reference = prepared(callback, datamodule).sets["val"]
    measured = callback.engine.measure(shifted, x, y, reference)
    subset_mse = (y - x).square().mean().item()
    whole_mse = (datamodule.val_pairs.y - datamodule.val_pairs.x).square().mean().item()
    assert measured.values["val/distortion/mse_subset"] == pytest.approx(subset_mse, rel=1e-5)
    assert abs(subset_mse - whole_mse) > 1e-5  # a different set of images: the two keys differ
    # all K samples: the shifts add (0² + 0.01² + 0.02²)/3 to the subset's MSE, plus the cross term
    offsets = 0.01 * torch.arange(3).view(1, -1, 1, 1, 1)
    all_k = (y.unsqueeze(1) + offsets - x.unsqueeze(1)).square().mean().item()
    assert measured.values["val/uncertainty/mse"] == pytest.approx(all_k, rel=1e-5)
    assert torch.equal(measured.samples[:, 0], y[:3])  # the first batch, kept for panels
    assert measured.maps == {}  # no auxiliary maps: not a fusion restorer


def test_the_test_split_is_measured_with_test_keys(train_config):
    datamodule, shifted = photo_datamodule(num_val=16), ShiftedObservation(0.1)
    datamodule.setup("test")
    callback = metrics_callback(train_config, "metrics.num_images=8", "metrics.patch_size=2")
    callback.setup(trainer_of(datamodule), None, "test")
    values = callback.engine.measure(shifted, *callback.sets["test"], stage="test").values
    assert "test/perception/fd" in values and "test/uncertainty/pooled" in values
    assert not [k for k in values if k.startswith("val/")]


def test_the_panel_samples_file_holds_the_last_epochs_panel(tmp_path):
    clean, observed = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    samples = torch.rand(4, 2, 1, 16, 16)
    panels = ImagePanels(str(tmp_path), panel_images=3)
    for epoch in (0, 1):
        panels.on_measured(Measured("val", epoch, {}, clean, observed, samples + epoch))
    assert sorted(p.name for p in (tmp_path / "images").glob("*.png")) == ["val_epoch000.png", "val_epoch001.png"]
    with np.load(tmp_path / PANEL_SAMPLES_FILE) as saved:
        assert int(saved["epoch"]) == 1
        np.testing.assert_array_equal(saved["samples"], (samples[:3] + 1).numpy())
        np.testing.assert_array_equal(saved["clean"], clean[:3].numpy())
        np.testing.assert_array_equal(saved["observation"], observed[:3].numpy())


def test_wandb_is_told_each_keys_axis_and_direction(train_config):
    """define_keys: every per-epoch key charted against epoch (max for precision/recall/PSNR, min for the rest);
    the constants (floors) are left to the run summary."""
    callback = prepared(metrics_callback(train_config, "metrics.num_images=8"), photo_datamodule(num_val=16))
    calls = {}
    define_keys(
        SimpleNamespace(define_metric=lambda name, **kw: calls.__setitem__(name, kw)), callback.engine.keys("val")
    )
    assert set(calls) >= {"val/perception/fd", "val/perception/recall", "val/uncertainty/spread"}
    assert not any(name.endswith("_floor") for name in calls)
    assert all(kw["step_metric"] == "epoch" for kw in calls.values())
    best = {name: kw["summary"] for name, kw in calls.items()}
    assert best["val/perception/recall"] == best["val/distortion/psnr_subset"] == "last,max"
    assert (
        best["val/perception/fd"] == best["val/distortion/mse_subset"] == best["val/uncertainty/pooled"] == "last,min"
    )


class Recording:
    """A restorer that records the name of every attribute measurement reads of it, delegating to `inner`."""

    def __init__(self, inner) -> None:
        object.__setattr__(self, "read", [])
        object.__setattr__(self, "inner", inner)

    def __getattribute__(self, name: str):
        if name in ("read", "inner", "__class__"):
            return object.__getattribute__(self, name)
        object.__getattribute__(self, "read").append(name)
        return getattr(object.__getattribute__(self, "inner"), name)


PROTOCOL = {"restore", "eval_generator", "auxiliary_maps", "degradation", "device"}


def test_measurement_calls_only_the_protocol(train_config):
    """Measuring a restorer (the subset's measures, then the split's distortion) reads nothing of it but the
    protocol; an object lacking part of it is named before measuring."""
    assert isinstance(tiny_gan(), MeasuredRestorer) and isinstance(ShiftedObservation(0.1), MeasuredRestorer)
    datamodule = photo_datamodule(num_val=16)
    callback = prepared(metrics_callback(train_config, "metrics.num_images=8"), datamodule)
    recording = Recording(ShiftedObservation(0.1, step=0.01))
    measured = measure(callback.engine, callback.sets["val"], "val", restorer=recording)
    split_distortion(recording, datamodule.val_pairs.x, datamodule.val_pairs.y, 4, "val")
    assert set(recording.read) == PROTOCOL and "val/perception/fd" in measured.values
    incomplete = SimpleNamespace(restore=None, degradation=GaussianNoise(0.1), device=torch.device("cpu"))
    with pytest.raises(
        TypeError, match="SimpleNamespace does not implement MeasuredRestorer: no eval_generator, auxiliary_maps"
    ):
        callback.engine.measure(incomplete, *callback.sets["val"])


def test_an_epoch_measured_again_replaces_its_rows_in_the_epoch_table(tmp_path):
    """A job stopped between measuring epoch 2 and checkpointing it redoes epoch 2 on resume: one row per epoch."""
    from tradeoffs.callbacks.epoch_table import EpochTable

    table = EpochTable(str(tmp_path))
    for epoch, value in ((0, 1.0), (1, 2.0), (2, 3.0), (2, 3.5), (3, 4.0)):  # epoch 2 redone after a restart
        table.on_measured(type("M", (), {"epoch": epoch, "step": 0, "stage": "val", "values": {"v": value}})())
    table.on_measured(type("M", (), {"epoch": 3, "step": 0, "stage": "test", "values": {"v": 9.0}})())
    with open(tmp_path / "tradeoff_epochs.csv", newline="") as f:
        rows = [(r["stage"], int(r["epoch"]), float(r["v"])) for r in csv.DictReader(f)]
    assert rows == [("val", 0, 1.0), ("val", 1, 2.0), ("val", 2, 3.5), ("val", 3, 4.0), ("test", 3, 9.0)]
