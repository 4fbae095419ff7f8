"""Every experiment composes from the real configs and instantiates its datamodule and model."""

import pytest
from omegaconf import OmegaConf, open_dict

from tests.conftest import EXPERIMENTS
from tradeoffs.assemble import build_datamodule, build_loggers, build_model, compose_config, instantiate


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(experiment, image_folder, tmp_path):
    overrides = [f"experiment={experiment}"]
    cfg = compose_config("train", overrides, tmp_path / "run")
    if "root" in cfg.data.source.keys() and OmegaConf.is_missing(cfg.data.source, "root"):  # user names a folder
        overrides.append(f"data.source.root={image_folder}")
    if "prior" in cfg.model and OmegaConf.is_missing(cfg.model.prior, "ckpt_path"):  # user names a trained prior
        overrides.append("model/prior=mean")
    if "posterior_mean" in cfg.model and "ckpt_path" in cfg.model.posterior_mean.keys():  # a stage 1 the user names
        overrides.append("model/posterior_mean=prior_mean")
    cfg = compose_config("train", overrides, tmp_path / "run")
    crop = cfg.data.source.get("crop_size")  # None for sources of fixed-size images (digits)
    with open_dict(cfg):  # shrink the data to keep the test fast; the model stays full size
        if crop is not None:
            cfg.data.source.crop_size = min(crop, 64)
        if "val_crop_size" in cfg.data.source:
            cfg.data.source.val_crop_size = None
        cfg.data.source.num_val = 2
        cfg.data.num_workers = 0
        if "sampler" in cfg.model:  # a 2-step sampler keeps the full-size UNet's restore quick on CPU
            cfg.model.sampler.steps = 2
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    batch = next(iter(datamodule.val_dataloader()))
    assert model.restore(batch["y"][:1], 2).shape == (1, 2, *batch["x"].shape[1:])
    assert getattr(model, "adv_weight", 0) >= 0 and cfg.trainer.max_epochs > 0  # fusion restorers have no λ
    if crop is not None and hasattr(getattr(model, "generator", None), "check_image_size"):  # its crop fits its UNet
        model.generator.check_image_size(crop, crop)
    for callback in cfg.callbacks.values():
        instantiate(callback)


@pytest.mark.parametrize("experiment", ["bigprior_gaussian", "smoke_flow"])
def test_building_a_model_leaves_the_run_config_as_composed(experiment, tmp_path):
    """Regression: models that take `${data.source}` (a prior mean, a closed-form stage 1) resolved data.source.seed
    in the run's config, so a resume saw data.source.seed changed and was refused."""
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path / "run")
    before = OmegaConf.to_container(cfg, resolve=False)
    build_model(cfg, build_datamodule(cfg))
    assert OmegaConf.to_container(cfg, resolve=False) == before


def test_evaluate_config_composes(tmp_path):
    cfg = compose_config("evaluate", ["ckpt_path=x.ckpt"], tmp_path / "eval")
    assert cfg.split == "val" and list(cfg.overrides) == []


@pytest.mark.parametrize(
    ("experiment", "sweep", "points"), [("demo", "demo", 6), ("gaussian_oracle", "gaussian_oracle", 4)]
)
def test_make_targets_sweeps_compose(experiment, sweep, points, tmp_path):
    """The λ grids `make demo` and `make oracle` launch, on top of their experiments."""
    cfg = compose_config("train", [f"experiment={experiment}", f"sweep={sweep}"], tmp_path / "run")
    grid = [float(v) for v in str(cfg.hydra.sweeper.params["model.adv_weight"]).split(",")]
    assert grid[0] == 0 and grid == sorted(grid) and len(grid) == points  # from the MMSE end upward
    assert cfg.ckpt_path == "auto"  # rerunning the target resumes the sweep


def test_wrap_config_moves_the_wrapped_network_into_the_stored_model(tmp_path):
    from tradeoffs.wrap import run_config

    cfg = compose_config("wrap", ["experiment=demo", "name=n", "wrapped.network._target_=torch.nn.Identity"], tmp_path)
    stored = run_config(cfg)
    assert stored.model._target_ == "tradeoffs.models.wrapped.WrappedRestorer" and stored.model.weights is None
    assert "wrapped" not in stored and "name" not in stored and stored.data.source._target_.endswith("Digits")


@pytest.mark.parametrize(
    ("overrides", "gpus", "tasks"),
    [
        ([], 0, 1),
        (["trainer=gpu"], 1, 1),
        (["trainer=ddp", "trainer.devices=4"], 4, 4),
        (["trainer=ddp", "trainer.accelerator=cpu"], 0, 2),
    ],
)
def test_slurm_requests_follow_the_trainer(tmp_path, overrides, gpus, tasks):
    cfg = compose_config("train", ["experiment=smoke", "hydra/launcher=slurm", *overrides], tmp_path)
    assert (cfg.hydra.launcher.gpus_per_node, cfg.hydra.launcher.tasks_per_node) == (gpus, tasks)


@pytest.mark.parametrize("logger", ["csv", "none"])
def test_a_sweeps_wandb_settings_without_wandb_are_not_a_logger(logger, tmp_path, caplog):
    cfg = compose_config("train", ["experiment=smoke", "sweep=adv_weight", f"logger={logger}"], tmp_path / "run")
    assert "group" in cfg.logger.wandb  # the sweep's W&B group, left without W&B by the logger choice
    loggers = build_loggers(cfg, "run-id")
    assert [type(one).__name__ for one in loggers] == (["ResumableCSVLogger"] if logger == "csv" else [])
    assert "logger.wandb sets group but names no logger" in caplog.text


def test_the_esrgan_presets_set_the_paper_s_two_stages(tmp_path):
    """Wang et al. 2018: stage 1 L1 only (λ = 0); stage 2 1e-2·L1 + 1·VGG19 conv5_4 + 5e-3·GAN, Adam 1e-4, EMA."""
    psnr = compose_config("train", ["experiment=sr4_folder", "preset=esrgan_psnr"], tmp_path / "a").model
    assert (psnr.adv_weight, psnr.perceptual_weight, psnr.distortion_loss._target_) == (0.0, 0.0, "torch.nn.L1Loss")
    gan = compose_config("train", ["experiment=sr4_folder", "preset=esrgan"], tmp_path / "b").model
    assert (gan.adv_weight, gan.distortion_weight, gan.perceptual_weight) == (5e-3, 1e-2, 1.0)
    assert (gan.perceptual._target_, gan.perceptual.layer, gan.perceptual.criterion) == (
        "tradeoffs.losses.perceptual.VGGFeatureLoss",
        "conv5_4",
        "l1",
    )
    assert (gan.distortion_loss._target_, gan.ema_decay, gan.optimizer_g.lr) == ("torch.nn.L1Loss", 0.999, 1e-4)
    assert gan.generator.blocks == 23  # the experiment's network is kept
