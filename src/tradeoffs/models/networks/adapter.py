"""How a restorer calls a network, its own or one written elsewhere (an RRDBNet, a SwinIR, any `nn.Module`).

The network reads v = low + (high − low)·u, with u the observation on the image grid (`input="lifted"`: upsampled
for super-resolution, with the mask channel for inpainting, what this project's generators read) or as observed
(`input="observation"`: the low-resolution image of an SR network), and [low, high] its `value_range`; its output
is mapped back to [0, 1] and must have the clean images' shape. A stochastic network gets z ~ N(0, I) of
`noise_channels` channels on v's grid, concatenated to v (`noise_input="concat"`) or as its second argument
(`noise_input="argument"`). `tradeoffs.wrap` measures a network through this adapter; the GAN restorer trains one
through it (`model/external=network`).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Degradation, LinearDegradation

INPUTS = ("lifted", "observation")
NOISE_INPUTS = ("concat", "argument")


@dataclass(frozen=True)
class NetworkIO:
    """What a network reads and writes; `key` names the config node in errors (e.g. `model.generator`)."""

    input: str = "lifted"
    value_range: tuple[float, float] = (0.0, 1.0)
    noise_channels: int = 0
    noise_input: str = "concat"
    key: str = "model"

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise ConfigError(f"{self.key}.input must be one of {INPUTS}, got {self.input!r}")
        if self.noise_input not in NOISE_INPUTS:
            raise ConfigError(f"{self.key}.noise_input must be one of {NOISE_INPUTS}, got {self.noise_input!r}")
        if self.noise_channels < 0:
            raise ConfigError(f"{self.key}.noise_channels must be >= 0, got {self.noise_channels}")
        low, high = self.value_range
        if not high > low:
            raise ConfigError(
                f"{self.key}.value_range must be [low, high] with high > low, got {list(self.value_range)}"
            )
        object.__setattr__(self, "value_range", (float(low), float(high)))

    @property
    def stochastic(self) -> bool:
        return self.noise_channels > 0


class WeightsFile(NamedTuple):
    """A state dict file, the entry holding it (`key`) and a name prefix to strip (`prefix`)."""

    path: str
    key: str | None = None
    prefix: str = ""


class ExternalNetwork(NamedTuple):
    """What `model/external=network` builds: the network, how it is called, and the weights it starts from."""

    network: nn.Module
    io: NetworkIO
    weights: WeightsFile | None


def external_network(
    network: nn.Module,
    weights: str | None = None,
    weights_key: str | None = None,
    weights_prefix: str = "",
    input: str = "lifted",
    value_range: tuple[float, float] = (0.0, 1.0),
    noise_channels: int = 0,
    noise_input: str = "concat",
    node: str = "model.external",
) -> ExternalNetwork:
    """`conf/model/external/network.yaml` (and `conf/model/wrapped.yaml`'s keys, `node` naming them in errors).
    The weights file is only named here: the GAN reads it when training starts (a checkpoint carries its tensors,
    so evaluating or resuming one never needs it), `tradeoffs.wrap` at once."""
    if not isinstance(network, nn.Module):
        raise ConfigError(f"{node}.network must build an nn.Module, got {type(network).__name__}")
    io = NetworkIO(input, tuple(value_range), noise_channels, noise_input, key=node)
    return ExternalNetwork(network, io, None if weights is None else WeightsFile(weights, weights_key, weights_prefix))


def read_state_dict(path: str | Path, key: str | None = None, prefix: str = "", node: str = "model"):
    """The tensors of a weights file (`.safetensors`, or a torch file: a state dict, or a dict holding one under
    `key`, e.g. BasicSR's `params_ema` or a Lightning checkpoint's `state_dict`); with a `prefix`, only the tensors
    named with it, the prefix removed (`module.` of DataParallel, `generator.` or `ema.module.` of a checkpoint of
    this project). Errors name the keys of the config `node`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{node}.weights={path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            payload = load_file(path)
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated file or another format: name the file, not the unpickler
        raise ConfigError(f"{node}.weights={path}: not a weights file ({type(error).__name__}: {error})") from None
    if key is not None:
        if not isinstance(payload, dict) or key not in payload:
            found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
            raise ConfigError(f"{node}.weights_key={key}: {path} has no such entry (it holds {found})")
        payload = payload[key]
    if not isinstance(payload, dict) or not all(isinstance(v, Tensor) for v in payload.values()):
        nested = [k for k, v in payload.items() if isinstance(v, dict)] if isinstance(payload, dict) else []
        hint = f": choose one of {nested} with {node}.weights_key=" if nested else ""
        raise ConfigError(f"{node}.weights={path} is not a state dict of tensors{hint}")
    if not prefix:
        return payload
    selected = {k[len(prefix) :]: v for k, v in payload.items() if k.startswith(prefix)}
    if not selected:
        raise ConfigError(
            f"{node}.weights_prefix={prefix}: no tensor of {path} is named with it ({sorted(payload)[:5]})"
        )
    return selected


def load_weights(network: nn.Module, weights: WeightsFile, node: str = "model") -> None:
    """Load a weights file into `network`, every tensor and nothing else, or ConfigError naming `node`'s keys."""
    state = read_state_dict(weights.path, weights.key, weights.prefix, node)
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"{node}.weights={weights.path} does not fit {node}.network ({type(network).__name__}): "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            + (f" ({node}.weights_prefix= strips a name prefix)" if unexpected else "")
        )


class NetworkAdapter:
    """Calls a network as a restorer of `degradation` with `channels` image channels, as `io` says (module doc).

    It holds no weights: the restorer registers the network (and its EMA) itself, so their parameter names stay the
    network's own."""

    def __init__(self, degradation: Degradation, channels: int, io: NetworkIO) -> None:
        self.degradation, self.channels, self.io = degradation, channels, io

    @property
    def stochastic(self) -> bool:
        return self.io.stochastic

    def network_input(self, y: Tensor) -> Tensor:
        low, high = self.io.value_range
        u = self.degradation.lift(y) if self.io.input == "lifted" else y
        return low + (high - low) * u

    def sample(self, network: nn.Module, v: Tensor, generator: torch.Generator | None) -> Tensor:
        """One output in [0, 1] per row of the network input v, with fresh noise z when stochastic."""
        if not self.stochastic:
            out = network(v)
        else:
            shape = (len(v), self.io.noise_channels, *v.shape[2:])
            z = torch.randn(shape, generator=generator, device=v.device, dtype=v.dtype)
            out = network(torch.cat([v, z], dim=1)) if self.io.noise_input == "concat" else network(v, z)
        return self.from_network(out, v)

    def restore(
        self, network: nn.Module, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """(B, K, C, H, W): K = num_samples restorations of each observation (a deterministic network runs once)."""
        v = self.network_input(y)
        if not self.stochastic:
            out = self.sample(network, v, generator)
            return out.unsqueeze(1).expand(-1, num_samples, *out.shape[1:])
        out = self.sample(network, v.repeat_interleave(num_samples, dim=0), generator)
        return out.view(len(y), num_samples, *out.shape[1:])

    def from_network(self, out: Tensor, v: Tensor) -> Tensor:
        """The network's output mapped back to [0, 1], after checking it has the clean images' shape."""
        expected = self.clean_shape(v)
        if not isinstance(out, Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ConfigError(
                f"{self.io.key}.network returned {got} for an input of {tuple(v.shape)}, the clean images are "
                f"{expected}: check its constructor arguments, {self.io.key}.input (lifted | observation) and "
                f"{self.io.key}.noise_channels"
            )
        low, high = self.io.value_range
        return (out - low) / (high - low)

    def clean_shape(self, v: Tensor) -> tuple[int, ...]:
        """(B, C, H, W) of the clean images behind network inputs v."""
        observed = self.io.input == "observation" and isinstance(self.degradation, LinearDegradation)
        shape = self.degradation.image_shape(tuple(v.shape)) if observed else tuple(v.shape)
        return (shape[0], self.channels, *shape[2:])
