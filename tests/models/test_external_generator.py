"""λ fine-tuning of a network written elsewhere: the GAN restorer calls `model/external=network` through the adapter
`tradeoffs.wrap` measures with, starts from its weights file, and checkpoints that no longer need the file."""

from functools import partial

import pytest
import torch
from torch import Tensor, nn

from tests.conftest import QUIET, photo_datamodule, quiet_trainer
from tests.models.test_gan import tiny_gan
from tradeoffs.assemble import compose_config
from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Downsample, GaussianNoise
from tradeoffs.evaluate import evaluate
from tradeoffs.models.gan import GANRestorer
from tradeoffs.models.networks.adapter import external_network
from tradeoffs.models.wrapped import WrappedRestorer
from tradeoffs.train import train


class TinySR(nn.Module):
    """A ×2 super-resolution network as papers write them: reads the low-resolution image in [-1, 1] and its noise
    z as a second argument, upsamples with a pixel shuffle."""

    def __init__(self, channels: int = 3, width: int = 8) -> None:
        super().__init__()
        self.head = nn.Conv2d(channels + 1, width, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(width, 4 * channels, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, low: Tensor, z: Tensor) -> Tensor:
        return nn.functional.interpolate(low, scale_factor=2) + self.up(torch.relu(self.head(torch.cat([low, z], 1))))


class SmallDenoiser(nn.Module):
    """A one-channel denoiser with a noise channel concatenated to its input: x̂ = y + f([y, z])."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs[:, :1] + self.body(inputs)


SR_IO = dict(input="observation", value_range=(-1.0, 1.0), noise_channels=1, noise_input="argument")


def sr_gan(external, **overrides) -> GANRestorer:
    """test_gan's tiny GAN on ×2 super-resolution of RGB images, with `external` as its generator."""
    generator = partial(pytest.fail, "the project's generator was built")
    return tiny_gan(
        **{"degradation": Downsample(2), "channels": 3, "generator": generator, "external": external} | overrides
    )


@pytest.fixture
def sr_weights(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "tiny_sr.pth"
    torch.save({"params_ema": {f"module.{k}": v for k, v in TinySR().state_dict().items()}}, path)
    return path


def test_a_new_run_starts_from_the_weights_file_and_restores_as_wrap_measures(sr_weights):
    model = sr_gan(external_network(TinySR(), str(sr_weights), "params_ema", "module.", **SR_IO))
    quiet_trainer(max_epochs=1, limit_train_batches=0, limit_val_batches=0).fit(
        model, photo_datamodule(degradation=Downsample(2), channels=3)
    )
    wrapped = WrappedRestorer(
        TinySR(), Downsample(2), 3, weights=str(sr_weights), weights_key="params_ema", weights_prefix="module.", **SR_IO
    )
    for name, tensor in wrapped.network.state_dict().items():
        torch.testing.assert_close(model.generator.state_dict()[name], tensor, rtol=0, atol=0)
        torch.testing.assert_close(model.ema.module.state_dict()[name], tensor, rtol=0, atol=0)
    y = Downsample(2)(torch.rand(2, 3, 16, 16))
    ours = model.restore(y, 3, torch.Generator().manual_seed(0))
    theirs = wrapped.restore(y, 3, torch.Generator().manual_seed(0))
    assert ours.shape == (2, 3, 3, 16, 16)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert ours.std(dim=1).mean() > 0  # the noise reaches the samples


def test_lambda_trains_the_network_from_its_weights_and_a_resume_does_not_reload_them(sr_weights, tmp_path):
    external = partial(external_network, weights=str(sr_weights), weights_key="params_ema", weights_prefix="module.")
    model, data = sr_gan(external(TinySR(), **SR_IO)), photo_datamodule(degradation=Downsample(2), channels=3)
    initial = {k: v.clone() for k, v in model.generator.state_dict().items()}
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(model, data)
    loaded = {k[len("module.") :]: v for k, v in torch.load(sr_weights, weights_only=True)["params_ema"].items()}
    trained = {k: v.clone() for k, v in model.generator.state_dict().items()}
    for name, tensor in loaded.items():  # 2 Adam steps of lr 1e-3 from the file's weights, not from the initial ones
        assert 0 < (trained[name] - tensor).abs().max() <= 3 * 2 * 1e-3, name
    assert max((initial[k] - loaded[k]).abs().max() for k in loaded) > 0.05
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    torch.save({"params_ema": {f"module.{k}": torch.zeros_like(v) for k, v in loaded.items()}}, sr_weights)
    resumed = sr_gan(external(TinySR(), **SR_IO))
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0).fit(
        resumed, data, ckpt_path=tmp_path / "last.ckpt", weights_only=False
    )
    for name, tensor in trained.items():
        torch.testing.assert_close(resumed.generator.state_dict()[name], tensor, rtol=0, atol=0)


def test_the_project_generators_are_called_through_the_same_adapter():
    model = sr_gan(None, generator=partial(TinyResidual), degradation=GaussianNoise(0.1), channels=1)
    assert model.adapter.io.input == "lifted" and model.adapter.io.noise_input == "argument"
    assert model.adapter.io.value_range == (0.0, 1.0)


class TinyResidual(nn.Module):
    noise_channels = 0

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, lifted: Tensor, z: Tensor | None = None) -> Tensor:
        return lifted + self.conv(lifted)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(network="not a module"), "model.external.network must build an nn.Module, got str"),
        (dict(input="low"), "model.external.input must be one of"),
        (dict(value_range=(1.0, -1.0)), "model.external.value_range must be"),
        (dict(noise_channels=-2), "model.external.noise_channels must be >= 0"),
    ],
)
def test_bad_external_settings_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        external_network(**({"network": SmallDenoiser()} | kwargs))


def test_a_network_that_does_not_fit_the_data_is_named_with_the_external_keys():
    model = sr_gan(external_network(TinySR(), **(SR_IO | {"input": "lifted"})))  # lifted: 16×16 in, 32×32 out
    with pytest.raises(ConfigError, match=r"model.external.network returned \(2, 3, 32, 32\).*model.external.input"):
        model.restore(Downsample(2)(torch.rand(2, 3, 16, 16)))


EXTERNAL = [
    "model/external=network",
    "model.external.network._target_=tests.models.test_external_generator.SmallDenoiser",
    "model.external.noise_channels=1",
]


@pytest.mark.slow
def test_a_lambda_sweep_of_an_external_network_from_its_weights_file_end_to_end(tmp_path):
    torch.manual_seed(5)
    weights = tmp_path / "denoiser.pth"
    torch.save(SmallDenoiser().state_dict(), weights)

    def run(name, *overrides):
        cfg = compose_config(
            "train", ["experiment=smoke", *QUIET, "logger=csv", *EXTERNAL, *overrides], tmp_path / name
        )
        return train(cfg)

    records = {w: run(f"w{w}", f"model.adv_weight={w}", f"model.external.weights={weights}") for w in (0.0, 0.1)}
    assert {w: r.adv_weight for w, r in records.items()} == {0.0: 0.0, 0.1: 0.1}
    assert records[0.0].metrics != records[0.1].metrics
    weights.rename(tmp_path / "moved.pth")  # checkpoints carry the tensors: evaluating one needs no weights file
    again = evaluate(compose_config("evaluate", [f"ckpt_path={records[0.1].checkpoint}", "accelerator=cpu"], tmp_path))
    assert {k: v for k, v in again.metrics.items() if k.startswith("val/")} == {
        k: v for k, v in records[0.1].metrics.items() if k.startswith("val/")
    }
    with pytest.raises(ConfigError, match=r"model.external.weights=.*denoiser.pth: no such file"):
        run("missing", f"model.external.weights={weights}")
    assert [p.name for p in (tmp_path / "missing").iterdir()] == [".hydra"]  # refused before the trainer was built
