"""Test-time traversal of the tradeoff without retraining: restorers built from trained ones.

- `SampleAverage`: the mean of k samples of a stochastic restorer. For a posterior sampler MSE_k = D*(1 + 1/k):
  averaging walks from perfect perception (k = 1) toward the MMSE estimator (k → ∞). A `SampleBank` shared by
  the k settings makes their means nested (the first k of the same draws).
- `Interpolation`: x̂_α = (1 − α)·x̂_perceptual + α·x̂_mmse. On the Gaussian source the optimal estimators at every
  perception level lie on this segment between X̂_0 and X* (Freirich et al.); α outside [0, 1] extrapolates.
- `PatchTransport` (Deep Optimal Transport, Adrai et al.): the Gaussian optimal transport of the restorer's
  c×p×p patches onto the clean patches, T(v) = μ_t + A(v − μ_s), fitted on a few images, then
  x̂_α = (1 − α)·T(x̂) + α·x̂.
Outputs are not clipped to [0, 1]: extrapolated estimates are reported as they are.
"""

import hashlib

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


class SampleBank:
    """`depth` draws of `base` per returned sample, kept per (observations, generator state), so that the means of
    k = 1, 2, 4, … ≤ depth samples are nested: each averages the first k of the same draws, and a whole averaging
    traversal samples `depth` times per image instead of 1 + 2 + 4 + …. Holds every draw it made (B·K·depth
    images per measured batch); without a generator nothing is kept (the draws would not be reproducible)."""

    def __init__(self, base: Restorer, depth: int) -> None:
        self.base, self.depth = base, int(depth)
        self._draws: dict[str, Tensor] = {}

    @torch.no_grad()
    def draws(self, y: Tensor, num_samples: int, generator: torch.Generator | None) -> Tensor:
        """(B, num_samples, depth, C, H, W)."""
        if generator is None:
            return self._draw(y, num_samples, None)
        state = generator.get_state().numpy().tobytes() + y.detach().cpu().numpy().tobytes()
        key = f"{num_samples}:{hashlib.sha256(state).hexdigest()}"
        if key not in self._draws:
            self._draws[key] = self._draw(y, num_samples, generator)
        return self._draws[key]

    def _draw(self, y: Tensor, num_samples: int, generator: torch.Generator | None) -> Tensor:
        samples = self.base.restore(y, num_samples * self.depth, generator=generator)
        return samples.view(len(y), num_samples, self.depth, *samples.shape[2:])


class SampleAverage(DerivedRestorer):
    """Each returned sample is the mean of k samples of `base` (the first k of a shared `bank`'s draws if given)."""

    def __init__(self, base: Restorer, k: int, bank: SampleBank | None = None) -> None:
        if k < 1:
            raise ConfigError(f"traversal.k must be >= 1, got {k}")
        if bank is not None and (bank.base is not base or k > bank.depth):
            raise ValueError(f"a SampleBank of depth {bank.depth} over another restorer cannot average k={k}")
        super().__init__(base)
        self.k, self.bank = k, bank

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        if self.bank is not None:
            return self.bank.draws(y, num_samples, generator)[:, :, : self.k].mean(dim=2)
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
