"""Reference estimators: restorers that need no training, the fixed landmarks of every tradeoff plot.

- `ObservationRestorer`: g⁻¹(y), the observation on the image grid (identity for denoising, the masked image for
  inpainting, bicubic upsampling for super-resolution, replicated grey for colorization): no hallucination at all.
- `CleanDrawRestorer`: an independent clean image that ignores y: perfect perception, no fidelity (MSE = 2·Var X).
- `PriorMean`: E[X] whatever y is (the prior of BIGPrior's Gaussian check).
- `ExactPosteriorRestorer` (the `gaussian` and `discrete` sources under fixed-σ denoising): the MMSE estimator
  E[X|Y], the MAP estimator argmax p(x|y) and the posterior sampler X̂ ~ p(x|y) (MSE = 2·D*, perfect perception).
"""

from abc import abstractmethod

import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Degradation, GaussianNoise
from tradeoffs.data.discrete import DiscreteImages
from tradeoffs.data.gaussian import GaussianImages
from tradeoffs.data.sources import ImageSource
from tradeoffs.models.restorer import FixedRestorer
from tradeoffs.theory.gaussian import posterior_covariance, wiener_filter

KINDS = ("mmse", "map", "sample")


class ObservationRestorer(FixedRestorer):
    """x̂ = g⁻¹(y) = the image channels of lift(y), the same for every sample."""

    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        out = self.degradation.lift(y)[:, : self.channels]
        return out.unsqueeze(1).expand(-1, num_samples, *out.shape[1:])


class CleanDrawRestorer(FixedRestorer):
    """x̂ = a clean image drawn uniformly from `images` (the validation set: the distribution perception is measured
    against), independently of y and seeded by `generator`. An input's own clean image comes up with probability
    1/N, which lowers the MSE by a factor of about 1 − 1/N."""

    def __init__(self, degradation: Degradation, images: Tensor, seed: int = 0) -> None:
        super().__init__(degradation, images.shape[1], seed)
        self.images = images

    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        device = generator.device if generator is not None else y.device
        index = torch.randint(len(self.images), (len(y) * num_samples,), generator=generator, device=device)
        return self.images[index.cpu()].to(y.device).view(len(y), num_samples, *self.images.shape[1:])


class PriorMean(FixedRestorer):
    """x̂ = E[X] whatever y is (the `gaussian` source's μ, else the mean of `num_draws` training draws): the prior
    of BIGPrior's Gaussian check, and a reference estimator with no fidelity and no diversity."""

    def __init__(self, degradation: Degradation, source: ImageSource, num_draws: int = 256, seed: int = 0) -> None:
        super().__init__(degradation, source.channels, seed)
        if isinstance(source, GaussianImages):
            mean = source.mean.float().view(source.channels, source.size, source.size)
        else:
            draws = generator_for(seed, 0xA7)
            mean = torch.stack([source.sample(draws) for _ in range(num_draws)]).mean(0)
        self.register_buffer("mean", mean)

    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.mean.expand(len(y), num_samples, *self.mean.shape).to(y.dtype)


class ExactPosteriorRestorer(FixedRestorer):
    """E[X|Y] (`mmse`), argmax p(x|y) (`map`) or a draw from p(x|y) (`sample`), computed in closed form."""

    def __init__(self, degradation: GaussianNoise, source: ImageSource, kind: str, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ConfigError(f"exact posterior kind must be one of {', '.join(KINDS)}, got {kind!r}")
        super().__init__(degradation, source.channels, seed)
        self.source, self.kind, self.noise_var = source, kind, degradation.low**2

    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        y = y.unsqueeze(1).expand(-1, num_samples, *y.shape[1:]).flatten(0, 1)
        out = self.posterior_estimate(y, generator) if self.kind == "sample" else self.point_estimate(y)
        return out.to(y.dtype).view(-1, num_samples, *y.shape[1:])

    @abstractmethod
    def point_estimate(self, y: Tensor) -> Tensor:
        """The MMSE or MAP estimate (`kind`) of each observation."""

    @abstractmethod
    def posterior_estimate(self, y: Tensor, generator: torch.Generator | None) -> Tensor:
        """One draw from p(x|y) per observation."""


class GaussianPosterior(ExactPosteriorRestorer):
    """X ~ N(μ, Σ), Y = X + σN: p(x|y) = N(μ + W(y − μ), Σ_{x|y}); its mode is its mean, so MAP = MMSE."""

    def __init__(self, degradation: GaussianNoise, source: GaussianImages, kind: str, seed: int = 0) -> None:
        super().__init__(degradation, source, kind, seed)
        self.register_buffer("mean", source.mean.clone())
        self.register_buffer("wiener", wiener_filter(source.covariance, self.noise_var))
        self.register_buffer("cholesky", torch.linalg.cholesky(posterior_covariance(source.covariance, self.noise_var)))

    def point_estimate(self, y: Tensor) -> Tensor:
        flat = y.flatten(1).double()
        return (self.mean + (flat - self.mean) @ self.wiener.T).view(y.shape)

    def posterior_estimate(self, y: Tensor, generator: torch.Generator | None) -> Tensor:
        z = torch.randn(len(y), self.mean.shape[0], generator=generator, device=y.device, dtype=torch.float64)
        return self.point_estimate(y) + (z @ self.cholesky.T).view(y.shape)


class DiscretePosterior(ExactPosteriorRestorer):
    """I.i.d. pixels X ∈ {v_j} with p_j, Y = X + σN: p(v_j | y) ∝ p_j exp(−(y − v_j)²/2σ²) per pixel."""

    def __init__(self, degradation: GaussianNoise, source: DiscreteImages, kind: str, seed: int = 0) -> None:
        super().__init__(degradation, source, kind, seed)
        self.register_buffer("values", source.values.clone())
        self.register_buffer("log_prior", source.probs.log())

    def probabilities(self, y: Tensor) -> Tensor:
        """p(v_j | y) per pixel: (..., J)."""
        return (self.log_prior - (y.double().unsqueeze(-1) - self.values) ** 2 / (2 * self.noise_var)).softmax(-1)

    def point_estimate(self, y: Tensor) -> Tensor:
        probs = self.probabilities(y)
        return probs @ self.values if self.kind == "mmse" else self.values[probs.argmax(-1)]

    def posterior_estimate(self, y: Tensor, generator: torch.Generator | None) -> Tensor:
        probs = self.probabilities(y)
        index = torch.multinomial(probs.view(-1, probs.shape[-1]), 1, generator=generator)
        return self.values[index].view(y.shape)


def exact_posterior(source: ImageSource, degradation: Degradation, kind: str, seed: int = 0) -> FixedRestorer | None:
    """The exact estimator `kind` when the posterior is known in closed form (the `gaussian` or `discrete` source
    under fixed-σ Gaussian noise); None otherwise."""
    if not isinstance(degradation, GaussianNoise) or degradation.low != degradation.high or degradation.low == 0:
        return None
    if isinstance(source, GaussianImages):
        return GaussianPosterior(degradation, source, kind, seed)
    if isinstance(source, DiscreteImages):
        return DiscretePosterior(degradation, source, kind, seed)
    return None
