"""Test-time traversal of the tradeoff without retraining: restorers built from trained ones.

- `SampleAverage`: the mean of k samples of a stochastic restorer. For a posterior sampler MSE_k = D*(1 + 1/k):
  averaging walks from perfect perception (k = 1) toward the MMSE estimator (k → ∞).
- `Interpolation`: x̂_α = (1 − α)·x̂_perceptual + α·x̂_mmse. On the Gaussian source the optimal estimators at every
  perception level lie on this segment between X̂_0 and X* (Freirich et al.); α outside [0, 1] extrapolates.
- `PatchTransport` (Deep Optimal Transport, Adrai et al.): the Gaussian optimal transport of the restorer's
  c×p×p patches onto the clean patches, T(v) = μ_t + A(v − μ_s), fitted on a few images, then
  x̂_α = (1 − α)·T(x̂) + α·x̂.
Outputs are not clipped to [0, 1]: extrapolated estimates are reported as they are.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.metrics.functional import gaussian_fit, gaussian_transport_map, image_patches
from tradeoffs.models.restorer import Restorer


class DerivedRestorer(Restorer):
    """A restorer computed from a trained one (`base`): same degradation, channels and evaluation seed."""

    def __init__(self, base: Restorer) -> None:
        super().__init__(base.degradation, base.channels, base.seed)
        self.base = base


class SampleAverage(DerivedRestorer):
    """Each returned sample is the mean of k samples of `base`."""

    def __init__(self, base: Restorer, k: int) -> None:
        if k < 1:
            raise ConfigError(f"traversal.k must be >= 1, got {k}")
        super().__init__(base)
        self.k = k

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        samples = self.base.restore(y, num_samples * self.k, generator=generator)
        return samples.view(len(y), num_samples, self.k, *samples.shape[2:]).mean(dim=2)


class Interpolation(DerivedRestorer):
    """x̂_α = (1 − α)·perceptual(y) + α·mmse(y); α = 0 is the perceptual restorer, α = 1 the MMSE one."""

    def __init__(self, perceptual: Restorer, mmse: Restorer, alpha: float) -> None:
        super().__init__(perceptual)
        self.mmse, self.alpha = mmse, float(alpha)

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        perceptual = self.base.restore(y, num_samples, generator=generator)
        return (1 - self.alpha) * perceptual + self.alpha * self.mmse.restore(y, num_samples, generator=generator)


class PatchTransport(DerivedRestorer):
    """x̂_α = (1 − α)·T(x̂) + α·x̂, T the Gaussian optimal transport of c×p×p patches (stride p) of `base`'s outputs
    onto those of clean images; `fit` it before use."""

    def __init__(self, base: Restorer, patch_size: int = 4, alpha: float = 0.0) -> None:
        if patch_size < 1:
            raise ConfigError(f"traversal.patch_size must be >= 1, got {patch_size}")
        super().__init__(base)
        self.patch_size, self.alpha = patch_size, float(alpha)
        d = base.channels * patch_size**2
        self.register_buffer("source_mean", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("target_mean", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("matrix", torch.eye(d, dtype=torch.float64))

    def check_size(self, images: Tensor) -> None:
        h, w, p = *images.shape[-2:], self.patch_size
        if h % p or w % p:
            raise ConfigError(f"traversal.patch_size={p} does not divide the {h}x{w} images")

    @torch.no_grad()
    def fit(self, restored: Tensor, clean: Tensor) -> "PatchTransport":
        """Fit T on the patches of restored images (N, C, H, W) and of (unpaired) clean images."""
        self.check_size(restored)
        source, target = image_patches(restored, self.patch_size), image_patches(clean, self.patch_size)
        if min(len(source), len(target)) <= source.shape[1]:
            raise ConfigError(
                f"traversal.fit_images: {len(source)} restored and {len(target)} clean patches cannot fit a "
                f"{source.shape[1]}-dimensional Gaussian; use more images or a smaller traversal.patch_size"
            )
        mu_s, cov_s = gaussian_fit(source.sum(0), source.T.double() @ source.double(), len(source))
        mu_t, cov_t = gaussian_fit(target.sum(0), target.T.double() @ target.double(), len(target))
        self.source_mean.copy_(mu_s)
        self.target_mean.copy_(mu_t)
        self.matrix.copy_(gaussian_transport_map(mu_s, cov_s, mu_t, cov_t))
        return self

    def transport(self, images: Tensor) -> Tensor:
        """T applied to every patch of images (N, C, H, W)."""
        self.check_size(images)
        n, c, h, w = images.shape
        p = self.patch_size
        patches = image_patches(images, p).double()
        moved = self.target_mean + (patches - self.source_mean) @ self.matrix.T
        columns = moved.to(images.dtype).view(n, -1, c * p * p).transpose(1, 2)
        return F.fold(columns, (h, w), p, stride=p)

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        samples = self.base.restore(y, num_samples, generator=generator)
        moved = self.transport(samples.flatten(0, 1)).view_as(samples)
        return (1 - self.alpha) * moved + self.alpha * samples
