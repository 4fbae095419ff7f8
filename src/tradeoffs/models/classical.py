"""Classical restorers that scikit-image and Pillow already provide, as restorers of the measurement protocol, and
the parameter grid of each for a degradation: the landmarks every learnt restorer is compared with.

- denoising (σ from the degradation): BM3D (the `bm3d` package; Dabov et al.), total variation (Chambolle) over its
  weight, wavelet shrinkage (BayesShrink, VisuShrink), non-local means over h, bilateral over σ_color, Gaussian
  smoothing over σ;
- ×f super-resolution: nearest, bilinear, bicubic (scikit-image) and Lanczos (Pillow) upsampling;
- inpainting: biharmonic inpainting and the mean fill of the observed pixels.
They are deterministic: the K samples of an input are identical.
"""

from collections.abc import Callable
from functools import partial

import bm3d
import numpy as np
import skimage.filters
import skimage.restoration
import skimage.transform
import torch
from PIL import Image
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.degradations import Compose, Degradation, Downsample, GaussianNoise, Inpainting
from tradeoffs.models.restorer import FixedRestorer

Method = Callable[[np.ndarray], np.ndarray]  # observation (H, W, C') float64 -> restoration (H', W', C)


class ClassicalRestorer(FixedRestorer):
    """`method` applied to each observation in turn, on the CPU."""

    def __init__(self, method: Method, degradation: Degradation, channels: int, label: str) -> None:
        super().__init__(degradation, channels)
        self.method, self.label = method, label

    @torch.no_grad()
    def restore(self, y: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        arrays = y.detach().cpu().double().permute(0, 2, 3, 1).numpy()
        restored = torch.stack([torch.from_numpy(np.ascontiguousarray(self.method(a))) for a in arrays])
        restored = restored.permute(0, 3, 1, 2).to(device=y.device, dtype=y.dtype)
        return restored.unsqueeze(1).expand(-1, num_samples, -1, -1, -1).contiguous()


def channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.shape[-1] > 1 else None


def on_channels(function: Callable[..., np.ndarray]) -> Method:
    """A scikit-image filter of (H, W) or (H, W, C) images, kept as (H, W, C)."""

    def method(image: np.ndarray) -> np.ndarray:
        out = function(image if image.shape[-1] > 1 else image[..., 0], channel_axis=channel_axis(image))
        return out.reshape(image.shape)

    return method


def bm3d_denoiser(sigma: float) -> Method:
    """BM3D with the noise's σ (bm3d_rgb's opponent colour transform for RGB). On images smaller than 16 px its 8×8
    blocks shrink to 4×4 (2×2 below 8 px; its transforms need powers of two) and its search windows to the image
    (the reference implementation crashes otherwise)."""

    def method(image: np.ndarray) -> np.ndarray:
        profile = bm3d.BM3DProfile()
        side = min(image.shape[:2])
        if side < 16:
            profile.bs_ht = profile.bs_wiener = 4 if side >= 8 else 2
            profile.step_ht = profile.step_wiener = 1
            profile.search_window_ht = profile.search_window_wiener = side
        if image.shape[-1] == 3:
            return bm3d.bm3d_rgb(image, sigma, profile=profile)
        return bm3d.bm3d(image[..., 0], sigma, profile=profile).reshape(image.shape)

    return method


def denoisers(sigma: float) -> dict[str, Method]:
    r = skimage.restoration
    grid: dict[str, Method] = {"bm3d": bm3d_denoiser(sigma)}
    for w in (0.5, 1.0, 2.0):
        grid[f"tv w={w * sigma:.3g}"] = on_channels(partial(r.denoise_tv_chambolle, weight=w * sigma))
    for rule in ("BayesShrink", "VisuShrink"):
        grid[f"wavelet {rule}"] = on_channels(partial(r.denoise_wavelet, sigma=sigma, method=rule, mode="soft"))
    for h in (0.6, 0.8, 1.0):
        nlm = partial(r.denoise_nl_means, h=h * sigma, sigma=sigma, patch_size=3, patch_distance=3, fast_mode=True)
        grid[f"nlm h={h * sigma:.3g}"] = on_channels(nlm)
    for s in (0.5, 1.0):  # bilateral filtering needs non-negative images: the observation is clipped to [0, 1]
        bilateral = on_channels(partial(r.denoise_bilateral, sigma_color=s * sigma, sigma_spatial=1.0))
        grid[f"bilateral σc={s * sigma:.3g}"] = lambda image, f=bilateral: f(np.clip(image, 0, 1))
    for s in (0.5, 1.0, 2.0):
        grid[f"gaussian σ={s:g}"] = on_channels(partial(skimage.filters.gaussian, sigma=s, preserve_range=True))
    return grid


def lanczos(image: np.ndarray, factor: int) -> np.ndarray:
    h, w, c = image.shape
    planes = [Image.fromarray(image[..., i].astype(np.float32), mode="F") for i in range(c)]
    return np.stack([np.asarray(p.resize((w * factor, h * factor), Image.LANCZOS)) for p in planes], -1)


def upsamplers(factor: int) -> dict[str, Method]:
    def resize(image: np.ndarray, order: int) -> np.ndarray:
        h, w, c = image.shape
        return skimage.transform.resize(image, (h * factor, w * factor, c), order=order, anti_aliasing=False)

    grid = {name: partial(resize, order=order) for name, order in (("nearest", 0), ("bilinear", 1), ("bicubic", 3))}
    grid["lanczos"] = partial(lanczos, factor=factor)
    return grid


def inpainters() -> dict[str, Method]:
    def biharmonic(observation: np.ndarray) -> np.ndarray:
        image, missing = observation[..., :-1], observation[..., -1] < 0.5
        out = skimage.restoration.inpaint_biharmonic(
            image if image.shape[-1] > 1 else image[..., 0], missing, channel_axis=channel_axis(image)
        )
        return out.reshape(image.shape)

    def mean_fill(observation: np.ndarray) -> np.ndarray:
        image, observed = observation[..., :-1], observation[..., -1:] >= 0.5
        mean = (image * observed).sum((0, 1)) / max(observed.sum(), 1)
        return np.where(observed, image, mean)

    return {"biharmonic": biharmonic, "mean fill": mean_fill}


def classical_grid(degradation: Degradation) -> dict[str, Method]:
    """{label: method} of the classical restorers for `degradation`; ConfigError when none applies."""
    steps = degradation.steps if isinstance(degradation, Compose) else [degradation]
    if any(isinstance(s, Inpainting) for s in steps):
        return inpainters()
    factors = [s.factor for s in steps if isinstance(s, Downsample)]
    if factors:
        return upsamplers(int(np.prod(factors)))
    noise = [s for s in steps if isinstance(s, GaussianNoise) and s.high > 0]
    if len(steps) == 1 and noise:
        return denoisers((noise[0].low + noise[0].high) / 2)
    raise ConfigError(f"no classical baselines for degradation {degradation!r} (denoising, ×f SR or inpainting)")
