"""BIGPrior fusion: φ reaches the Wiener shrinkage σ_n²/(σ_x² + σ_n²) on Gaussian pixels and recovers inpainting
masks; the prior stays frozen."""

import pytest
import torch
from omegaconf import open_dict

from tests.conftest import quiet_trainer
from tradeoffs.assemble import build_datamodule, build_model, restorer_from_checkpoint
from tradeoffs.core.errors import ConfigError
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import GaussianNoise, Inpainting
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.models.fusion import FusionRestorer, WeightMapNetwork
from tradeoffs.models.reference import PriorMean
from tradeoffs.train import train


def fitted_fusion(degradation, sparsity=0.0, epochs=3, lr=3e-3):
    torch.manual_seed(0)
    source = GaussianImages(crop_size=8, std=0.1, correlation_length=0.0, num_val=64)
    datamodule = RestorationDataModule(source, degradation, batch_size=64, samples_per_epoch=2048)
    model = FusionRestorer(
        degradation,
        1,
        PriorMean(degradation, source),
        lambda in_channels: WeightMapNetwork(in_channels),
        lambda params: torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99)),
        sparsity=sparsity,
    )
    quiet_trainer(max_epochs=epochs, limit_val_batches=0).fit(model, datamodule=datamodule)
    datamodule.setup()
    return model.eval(), datamodule.val_pairs


@pytest.mark.parametrize("noise", [0.1, 0.05])
def test_weight_map_reaches_the_wiener_shrinkage_on_gaussian_pixels(noise):
    model, pairs = fitted_fusion(GaussianNoise(noise))
    phi = model.hallucination_map(pairs.y)
    expected = noise**2 / (0.1**2 + noise**2)  # 0.5 and 0.2
    assert phi.mean().item() == pytest.approx(expected, abs=0.03)
    assert phi.quantile(0.05).item() > expected - 0.1 and phi.quantile(0.95).item() < expected + 0.1
    mse = (model.restore(pairs.y)[:, 0] - pairs.x).square().mean().item()
    assert mse == pytest.approx(0.01 * noise**2 / (0.01 + noise**2), rel=0.1)  # the per-pixel MMSE


def test_weight_map_recovers_the_inpainting_mask():
    model, pairs = fitted_fusion(Inpainting("pixels", 0.5), sparsity=1e-3, epochs=30, lr=3e-4)  # the config's lr
    phi, observed = model.hallucination_map(pairs.y), pairs.y[:, -1:] > 0.5
    assert phi[~observed].mean() > 0.9 and phi[observed].mean() < 0.1
    agreement = ((phi > 0.5) == ~observed).float().mean().item()
    assert agreement > 0.97


def test_checkpoint_prior_is_frozen_and_kept_in_eval_mode(train_config):
    results = train(train_config("model.generator.noise_channels=1", "logger=csv", "trainer.max_epochs=1"))
    prior = restorer_from_checkpoint(results.checkpoint)
    assert not any(p.requires_grad for p in prior.parameters()) and not prior.training
    prior_cfg = ["model/prior=checkpoint", f"model.prior.ckpt_path={results.checkpoint}"]
    cfg = train_config(*prior_cfg, run="fusion", experiment="bigprior_gaussian")
    datamodule = build_datamodule(cfg)
    fusion = build_model(cfg, datamodule)
    fusion.train()
    assert not fusion.prior.training and fusion.weight_map.training
    optimized = {id(p) for group in fusion.configure_optimizers().param_groups for p in group["params"]}
    assert optimized == {id(p) for p in fusion.weight_map.parameters()}
    y = next(iter(datamodule.val_dataloader()))["y"][:2]
    samples = fusion.restore(y, 3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 3, *y.shape[1:]) and samples.std(dim=1).mean() > 0  # a stochastic prior stays so
    mismatch = train_config(*prior_cfg, "degradation.sigma=0.2", run="mismatch", experiment="bigprior_gaussian")
    with pytest.raises(ConfigError, match=r"restores GaussianNoise\(low=0.1, high=0.1\), this run's degradation is"):
        build_model(mismatch, build_datamodule(mismatch))


def test_fusion_run_logs_the_hallucination_map(train_config):
    cfg = train_config(experiment="bigprior_gaussian")
    with open_dict(cfg):
        cfg.data.samples_per_epoch, cfg.trainer.max_epochs, cfg.data.source.num_val = 256, 1, 64
        cfg.metrics.num_images = 32
    results = train(cfg)
    assert 0 <= results.metrics["val/uncertainty/hallucination"] <= 1


def test_bad_priors_are_named(train_config, tmp_path):
    with pytest.raises(ConfigError, match="model.prior.ckpt_path"):
        restorer_from_checkpoint(tmp_path / "missing.ckpt")
    source = GaussianImages(crop_size=4, channels=3)
    with pytest.raises(ConfigError, match="model.prior restores 3 channels"):
        FusionRestorer(GaussianNoise(0.1), 1, PriorMean(GaussianNoise(0.1), source), WeightMapNetwork, torch.optim.Adam)
