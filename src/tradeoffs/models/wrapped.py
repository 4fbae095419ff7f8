"""A network trained elsewhere (a SwinIR or ESRGAN generator, a torchvision model, any `nn.Module`) as a restorer.

The network reads the observation on the image grid (`input="lifted"`: upsampled for super-resolution, with the mask
channel for inpainting, what this project's generators read) or as observed (`input="observation"`: the low-resolution
image of an SR network), with values mapped from [0, 1] to its `value_range`. A stochastic network gets
z ~ N(0, I) of `noise_channels` channels on the input grid, concatenated to its input (`noise_input="concat"`) or as
its second argument (`noise_input="argument"`). Weights are frozen: the restorer is only measured.
"""

from pathlib import Path

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation, LinearDegradation
from tradeoffs.models.restorer import Restorer

INPUTS = ("lifted", "observation")
NOISE_INPUTS = ("concat", "argument")


def read_state_dict(path: str | Path, key: str | None = None, prefix: str = "") -> dict[str, Tensor]:
    """The tensors of a weights file (`.safetensors`, or a torch file: a state dict, or a dict holding one under
    `key`, e.g. BasicSR's `params_ema` or a Lightning checkpoint's `state_dict`), with `prefix` removed from the
    names that carry it (`module.` of DataParallel, `generator.` of a Lightning module)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"model.weights={path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            payload = load_file(path)
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated file or another format: name the file, not the unpickler
        raise ConfigError(f"model.weights={path}: not a weights file ({type(error).__name__}: {error})") from None
    if key is not None:
        if not isinstance(payload, dict) or key not in payload:
            found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
            raise ConfigError(f"model.weights_key={key}: {path} has no such entry (it holds {found})")
        payload = payload[key]
    if not isinstance(payload, dict) or not all(isinstance(v, Tensor) for v in payload.values()):
        nested = [k for k, v in payload.items() if isinstance(v, dict)] if isinstance(payload, dict) else []
        hint = f": choose one of {nested} with model.weights_key=" if nested else ""
        raise ConfigError(f"model.weights={path} is not a state dict of tensors{hint}")
    return {(k[len(prefix) :] if prefix and k.startswith(prefix) else k): v for k, v in payload.items()}


class WrappedRestorer(Restorer):
    """`network` (instantiated by Hydra from `model.network`) with the weights of `weights` (None: as constructed),
    as a frozen restorer of the measurement protocol."""

    def __init__(
        self,
        network: nn.Module,
        degradation: Degradation,
        channels: int,
        weights: str | None = None,
        weights_key: str | None = None,
        weights_prefix: str = "",
        input: str = "lifted",
        value_range: tuple[float, float] = (0.0, 1.0),
        noise_channels: int = 0,
        noise_input: str = "concat",
        seed: int = 0,
    ) -> None:
        super().__init__(degradation, channels, seed)
        if input not in INPUTS:
            raise ConfigError(f"model.input must be one of {INPUTS}, got {input!r}")
        if noise_input not in NOISE_INPUTS:
            raise ConfigError(f"model.noise_input must be one of {NOISE_INPUTS}, got {noise_input!r}")
        if noise_channels < 0:
            raise ConfigError(f"model.noise_channels must be >= 0, got {noise_channels}")
        low, high = value_range
        if not high > low:
            raise ConfigError(f"model.value_range must be [low, high] with high > low, got {list(value_range)}")
        if not isinstance(network, nn.Module):
            raise ConfigError(f"model.network must build an nn.Module, got {type(network).__name__}")
        self.network, self.input, self.noise_channels, self.noise_input = network, input, noise_channels, noise_input
        self.low, self.high = float(low), float(high)
        if weights is not None:
            state = read_state_dict(weights, weights_key, weights_prefix)
            missing, unexpected = network.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ConfigError(
                    f"model.weights={weights} does not fit model.network ({type(network).__name__}): "
                    f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
                    + (" (model.weights_prefix= strips a name prefix)" if unexpected else "")
                )
        self.network.eval().requires_grad_(False)

    @property
    def stochastic(self) -> bool:
        return self.noise_channels > 0

    def network_input(self, y: Tensor) -> Tensor:
        v = self.degradation.lift(y) if self.input == "lifted" else y
        return self.low + (self.high - self.low) * v

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        v = self.network_input(y)
        if not self.stochastic:
            out = self.from_network(self.network(v), v, self.clean_shape(y))
            return out.unsqueeze(1).expand(-1, num_samples, *out.shape[1:])
        v = v.repeat_interleave(num_samples, dim=0)
        z = torch.randn(
            (len(v), self.noise_channels, *v.shape[2:]), generator=generator, device=v.device, dtype=v.dtype
        )
        out = self.network(torch.cat([v, z], dim=1)) if self.noise_input == "concat" else self.network(v, z)
        out = self.from_network(out, v, (len(v), *self.clean_shape(y)[1:]))
        return out.view(len(y), num_samples, *out.shape[1:])

    def from_network(self, out: Tensor, v: Tensor, expected: tuple[int, ...]) -> Tensor:
        """The network's output mapped back to [0, 1], after checking it has the clean images' shape."""
        if not isinstance(out, Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ConfigError(
                f"model.network returned {got} for an input of {tuple(v.shape)}, the clean images are {expected}: "
                "check its constructor arguments, model.input (lifted | observation) and model.noise_channels"
            )
        return (out - self.low) / (self.high - self.low)

    def clean_shape(self, y: Tensor) -> tuple[int, ...]:
        """(B, C, H, W) of the clean images behind observations y."""
        linear = isinstance(self.degradation, LinearDegradation)
        shape = self.degradation.image_shape(tuple(y.shape)) if linear else tuple(y.shape)
        return (shape[0], self.channels, *shape[2:])

    def configure_optimizers(self) -> None:
        raise ConfigError("model=wrapped is measured, not trained: use tradeoffs.wrap, evaluate or traverse")
