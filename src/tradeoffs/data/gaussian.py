"""Synthetic Gaussian images X ~ N(μ, Σ), for which posteriors, the MMSE and every bound are known in closed form.

Σ is stationary: Σ_ij = σ² exp(−‖r_i − r_j‖ / ℓ) between pixels at positions r (exponential correlation, ℓ =
`correlation_length`; ℓ = 0 gives white noise), independent across channels. Pixels are not clipped to [0, 1], so
the Gaussian model stays exact; choose mean and std so that values stay mostly inside.
"""

import torch
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.sources import ImageSource


def exponential_covariance(size: int, std: float, correlation_length: float) -> Tensor:
    """float64 (size², size²) covariance of a size×size grid with exponential correlation."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = torch.stack([ys.flatten(), xs.flatten()], dim=1).double()
    if correlation_length == 0:
        return std**2 * torch.eye(size * size, dtype=torch.float64)
    return std**2 * torch.exp(-torch.cdist(r, r) / correlation_length)


class GaussianImages(ImageSource):
    def __init__(
        self,
        crop_size: int = 8,
        channels: int = 1,
        mean: float = 0.5,
        std: float = 0.1,
        correlation_length: float = 2.0,
        num_val: int = 512,
        seed: int = 0,
    ) -> None:
        if std <= 0 or correlation_length < 0:
            raise ConfigError(
                f"data.source.std={std} must be > 0 and data.source.correlation_length={correlation_length} >= 0"
            )
        self.channels, self.size, self.num_val, self.seed = channels, crop_size, num_val, seed
        pixel_cov = exponential_covariance(crop_size, std, correlation_length)
        self.covariance = torch.block_diag(*[pixel_cov] * channels)  # (d, d), d = C·H·W, float64
        self.mean = torch.full((self.covariance.shape[0],), float(mean), dtype=torch.float64)
        self.cholesky = torch.linalg.cholesky(self.covariance)

    @property
    def dim(self) -> int:
        return self.covariance.shape[0]

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.mean + z @ self.cholesky.T
        return x.float().view(n, self.channels, self.size, self.size)

    def sample(self, generator: torch.Generator) -> Tensor:
        return self._draw(1, generator)[0]

    def validation_images(self) -> Tensor:
        return self._draw(self.num_val, generator_for(self.seed, 0xA2))
