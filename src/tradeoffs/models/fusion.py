"""BIGPrior (Helou & Süsstrunk): a fusion restorer whose weight map says how much of each pixel is hallucinated.

x̂ = (1 − φ) ⊙ g⁻¹(y) + φ ⊙ prior(y), with g⁻¹(y) the observation on the image grid (the image channels of
lift(y)), prior any trained restorer (frozen) and φ ∈ [0, 1] per pixel from a small network of (lift(y), prior(y)),
trained with ‖x̂ − x‖² + ρ‖φ‖₁ (both as per-pixel means). φ = 0 keeps the observation, φ = 1 is pure prior. For
X ~ N(μ, σ_x²) per pixel, Y = X + σ_n N and the prior mean μ as the prior, the optimum is φ = σ_n²/(σ_x² + σ_n²)
(the Wiener shrinkage); for inpainting φ → 1 in the holes and → 0 where pixels are observed.
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import Degradation
from tradeoffs.models.restorer import Restorer

_TRAIN_STREAM = 0xB1


class WeightMapNetwork(nn.Module):
    """φ = sigmoid(conv stack(input)): (B, in_channels, H, W) -> (B, 1, H, W), same size (3×3 convs, ReLU)."""

    def __init__(self, in_channels: int, width: int = 32, layers: int = 4) -> None:
        super().__init__()
        modules, channels = [], in_channels
        for _ in range(layers - 1):
            modules += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        self.net = nn.Sequential(*modules, nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, inputs: Tensor) -> Tensor:
        return torch.sigmoid(self.net(inputs))


class FusionRestorer(Restorer):
    """`prior` is a trained restorer (built by `tradeoffs.assemble.restorer_from_checkpoint`) or a
    `tradeoffs.models.reference.PriorMean`;
    `weight_map` a factory completed with its input channels; ρ = `sparsity`."""

    def __init__(
        self,
        degradation: Degradation,
        channels: int,
        prior: Restorer,
        weight_map: Callable[..., nn.Module],
        optimizer: Callable[..., Optimizer],
        sparsity: float = 1e-5,
        seed: int = 0,
    ) -> None:
        super().__init__(degradation, channels, seed)
        if prior.channels != channels:
            raise ConfigError(f"model.prior restores {prior.channels} channels, the data has {channels}")
        if sparsity < 0:
            raise ConfigError(f"model.sparsity must be >= 0, got {sparsity}")
        self.prior = prior.eval().requires_grad_(False)
        self.weight_map = weight_map(in_channels=degradation.lifted_channels(channels) + channels)
        self.optimizer, self.sparsity = optimizer, float(sparsity)
        self.save_hyperparameters("sparsity", "seed", "channels")

    def train(self, mode: bool = True) -> "FusionRestorer":
        """The prior stays in eval mode (frozen dropout, EMA weights) while φ trains."""
        super().train(mode)
        self.prior.eval()
        return self

    def fuse(self, lifted: Tensor, prior: Tensor) -> tuple[Tensor, Tensor]:
        """(x̂, φ) for one prior sample per observation: x̂ = (1 − φ) g⁻¹(y) + φ prior."""
        phi = self.weight_map(torch.cat([lifted, prior], dim=1))
        return (1 - phi) * lifted[:, : self.channels] + phi * prior, phi

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        prior = self.prior.restore(y, num_samples, generator=generator)
        lifted = self.degradation.lift(y).repeat_interleave(num_samples, dim=0)
        fused, _ = self.fuse(lifted, prior.flatten(0, 1))
        return fused.view_as(prior)

    @torch.no_grad()
    def hallucination_map(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """φ (B, 1, H, W) for one prior sample per observation: the share of each pixel taken from the prior."""
        prior = self.prior.restore(y, 1, generator=generator)[:, 0]
        return self.fuse(self.degradation.lift(y), prior)[1]

    def auxiliary_maps(self, y: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        return {"hallucination": self.hallucination_map(y, generator)}

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x, y = batch["x"], batch["y"]
        rng = generator_for(self.seed, _TRAIN_STREAM, self.current_epoch, batch_idx, device=self.device)
        with torch.no_grad():
            prior = self.prior.restore(y, 1, generator=rng)[:, 0]
        fused, phi = self.fuse(self.degradation.lift(y), prior)
        distortion, sparsity = (fused - x).square().mean(), phi.mean()
        loss = distortion + self.sparsity * sparsity
        self.log_dict(
            {"train/loss/distortion": distortion, "train/loss/sparsity": sparsity, "train/loss/total": loss},
            on_step=True,
            on_epoch=True,
            batch_size=len(x),
        )
        return loss

    def configure_optimizers(self) -> Optimizer:
        return self.optimizer(self.weight_map.parameters())
