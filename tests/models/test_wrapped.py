"""WrappedRestorer: a foreign nn.Module's outputs, weights files in the formats people have, noise inputs, errors."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Downsample, GaussianNoise, Inpainting
from tradeoffs.models.networks.adapter import WeightsFile, load_weights, read_state_dict
from tradeoffs.models.wrapped import WrappedRestorer


class SignalPlusNoise(nn.Module):
    """network(v, z) = v + scale·z: a stochastic network whose samples have per-pixel std `scale`."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, v, z):
        return v + self.scale * z


def conv_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"weight": torch.randn(1, 1, 3, 3, generator=g) / 9, "bias": torch.randn(1, generator=g)}


def observations(shape=(3, 1, 8, 8), seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("layout", ["plain", "basicsr", "lightning", "safetensors"])
def test_the_restoration_is_the_network_with_the_file_s_weights(tmp_path, layout):
    weights = conv_weights()
    path = tmp_path / ("net.safetensors" if layout == "safetensors" else "net.pth")
    key, prefix = {"basicsr": ("params_ema", ""), "lightning": ("state_dict", "generator.")}.get(layout, (None, ""))
    if layout == "safetensors":
        save_file(weights, path)
    elif layout == "plain":
        torch.save(weights, path)
    elif layout == "basicsr":
        torch.save({"params": conv_weights(seed=5), "params_ema": weights}, path)
    else:
        torch.save({"state_dict": {f"generator.{k}": v for k, v in weights.items()}, "epoch": 3}, path)
    network = nn.Conv2d(1, 1, 3, padding=1)
    restorer = WrappedRestorer(
        network, GaussianNoise(0.1), 1, weights=str(path), weights_key=key, weights_prefix=prefix
    )
    y = observations()
    out = restorer.restore(y, num_samples=2)
    expected = F.conv2d(y, weights["weight"], weights["bias"], padding=1)
    assert out.shape == (3, 2, 1, 8, 8)
    torch.testing.assert_close(out[:, 0], expected)
    torch.testing.assert_close(out[:, 1], expected)
    assert not any(p.requires_grad for p in restorer.parameters())


def test_value_range_maps_the_network_s_input_and_output():
    """A network reading [-1, 1] sees 2y − 1 and its output is mapped back: tanh(2y − 1) -> (tanh(2y − 1) + 1) / 2."""
    y = observations()
    restorer = WrappedRestorer(nn.Tanh(), GaussianNoise(0.1), 1, value_range=(-1.0, 1.0))
    torch.testing.assert_close(restorer.restore(y)[:, 0], (torch.tanh(2 * y - 1) + 1) / 2)


def test_an_sr_network_reads_the_low_resolution_observation():
    degradation = Downsample(2)
    x = observations((2, 3, 8, 8))
    y = degradation(x)
    upsample = nn.Upsample(scale_factor=2, mode="nearest")
    restorer = WrappedRestorer(upsample, degradation, 3, input="observation")
    torch.testing.assert_close(restorer.restore(y)[:, 0], F.interpolate(y, scale_factor=2, mode="nearest"))
    lifted = WrappedRestorer(upsample, degradation, 3)  # reads lift(y), already 8×8: returns 16×16
    with pytest.raises(ConfigError, match=r"returned \(2, 3, 16, 16\).*clean images are \(2, 3, 8, 8\).*model.input"):
        lifted.restore(y)


def test_the_lifted_input_carries_the_inpainting_mask():
    degradation = Inpainting("center", 0.5)
    y = degradation(observations((2, 3, 8, 8)))
    first_channels = nn.Conv2d(4, 3, 1, bias=False)
    with torch.no_grad():
        first_channels.weight.copy_(torch.eye(4)[:3, :, None, None])
    restorer = WrappedRestorer(first_channels, degradation, 3)
    torch.testing.assert_close(restorer.restore(y)[:, 0], y[:, :3])


@pytest.mark.parametrize("noise_input", ["concat", "argument"])
def test_a_stochastic_network_draws_seeded_samples_with_its_spread(noise_input):
    scale = 0.05
    if noise_input == "concat":  # network([v, z]) = v + scale·z as a 1×1 convolution
        network = nn.Conv2d(2, 1, 1, bias=False)
        with torch.no_grad():
            network.weight.copy_(torch.tensor([1.0, scale]).view(1, 2, 1, 1))
    else:
        network = SignalPlusNoise(scale)
    restorer = WrappedRestorer(network, GaussianNoise(0.1), 1, noise_channels=1, noise_input=noise_input)
    y = observations((4, 1, 16, 16))
    samples = restorer.restore(y, 256, generator=torch.Generator().manual_seed(0))
    again = restorer.restore(y, 256, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 256, 1, 16, 16)
    torch.testing.assert_close(samples, again)
    torch.testing.assert_close(samples.mean(1), y, atol=5 * scale / 16, rtol=0)  # 5 σ of a mean of 256
    assert samples.std(1).mean().item() == pytest.approx(scale, rel=0.02)


def test_weights_that_do_not_fit_are_named(tmp_path):
    path = tmp_path / "net.pth"
    torch.save({f"module.{k}": v for k, v in conv_weights().items()}, path)
    with pytest.raises(ConfigError, match=r"does not fit model.network \(Conv2d\).*unexpected \['module.bias'.*prefix"):
        WrappedRestorer(nn.Conv2d(1, 1, 3, padding=1), GaussianNoise(0.1), 1, weights=str(path))
    restorer = WrappedRestorer(
        nn.Conv2d(1, 1, 3, padding=1), GaussianNoise(0.1), 1, weights=str(path), weights_prefix="module."
    )
    torch.testing.assert_close(restorer.network.bias, conv_weights()["bias"])


def test_weights_files_that_are_not_state_dicts_are_named(tmp_path):
    nested = tmp_path / "nested.pth"
    torch.save({"params": conv_weights(), "params_ema": conv_weights(), "iter": 5}, nested)
    with pytest.raises(ConfigError, match=r"not a state dict of tensors: choose one of \['params', 'params_ema'\]"):
        read_state_dict(nested)
    with pytest.raises(ConfigError, match=r"weights_key=ema: .* has no such entry \(it holds \['iter', 'params'"):
        read_state_dict(nested, "ema")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match=r"model.weights=.*broken.pth: not a weights file"):
        read_state_dict(broken)
    with pytest.raises(ConfigError, match=r"model.weights=.*missing.pth: no such file"):
        read_state_dict(tmp_path / "missing.pth")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input": "low_res"}, "model.input must be one of"),
        ({"noise_input": "add"}, "model.noise_input must be one of"),
        ({"noise_channels": -1}, "model.noise_channels must be >= 0"),
        ({"value_range": (1.0, 0.0)}, "model.value_range must be"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        WrappedRestorer(nn.Identity(), GaussianNoise(0.1), 1, **kwargs)


def test_a_target_that_is_not_a_module_is_named():
    with pytest.raises(ConfigError, match="model.network must build an nn.Module, got builtin_function_or_method"):
        WrappedRestorer(torch.sigmoid, GaussianNoise(0.1), 1)


def test_a_prefix_takes_the_tensors_it_names_from_a_checkpoint_of_several_networks(tmp_path):
    path = tmp_path / "run.ckpt"
    others = {"critic.weight": torch.zeros(3), "ema.n_averaged": torch.tensor(4)}
    torch.save({"state_dict": {**{f"generator.{k}": v for k, v in conv_weights().items()}, **others}}, path)
    network = nn.Conv2d(1, 1, 3, padding=1)
    load_weights(network, WeightsFile(str(path), "state_dict", "generator."))
    torch.testing.assert_close(network.weight, conv_weights()["weight"])
    with pytest.raises(ConfigError, match=r"model.weights_prefix=module.: no tensor of .*run.ckpt is named with it"):
        read_state_dict(path, "state_dict", "module.")
