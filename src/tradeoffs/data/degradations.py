"""Degradations y = A(x) + noise, applied to batches (B, C, H, W) of clean images in [0, 1].

Each degradation also says how an observation becomes a network input on the clean-image grid (`lift`): identity
for noise, blur and JPEG, bicubic upsampling for super-resolution, (masked image, mask) for inpainting, the grey
channel replicated into RGB for colorization. Linear ones expose the
operator A and its adjoint Aᵀ, so ⟨A x, v⟩ = ⟨x, Aᵀ v⟩ (used by data-consistency steps and checked in tests).
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from tradeoffs.core.errors import ConfigError


class Degradation(ABC):
    """Maps clean images x to observations y; `lift(y)` puts y back on the image grid for a network."""

    @abstractmethod
    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor: ...

    def __repr__(self) -> str:
        """`Name(param=value, ...)`: equal for degradations that produce the same observations."""
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def lift(self, y: Tensor) -> Tensor:
        return y

    def lifted_channels(self, channels: int) -> int:
        """Channels of `lift(y)` for clean images with `channels` channels."""
        return channels

    def check_image_size(self, height: int, width: int, key: str = "data.source.crop_size") -> None:
        """Raise ConfigError, naming `key` (the setting that sizes them), if clean images of this size cannot be
        degraded."""


class LinearDegradation(Degradation):
    """y = A x (+ noise, for composed degradations). `operator(x, y)` is A; y carries per-sample parameters."""

    @abstractmethod
    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...

    def measurement(self, y: Tensor) -> Tensor:
        """The part of the observation that equals A x (+ noise)."""
        return y

    def adjoint(self, v: Tensor, y: Tensor | None = None) -> Tensor:
        """Aᵀ v, computed exactly as the vector-Jacobian product of the linear map x ↦ A x."""
        x0 = torch.zeros(self.image_shape(tuple(v.shape)), dtype=v.dtype, device=v.device, requires_grad=True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.operator(x0, y), x0, grad_outputs=v)
        return grad

    def image_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the clean images whose measurements have `shape`."""
        return shape

    @property
    def noise_free(self) -> bool:
        """True when y = A x exactly (no additive noise), the premise of range–null-space projections."""
        return True

    def pseudo_inverse(self, v: Tensor, y: Tensor | None = None, iterations: int = 50, tol: float = 1e-6) -> Tensor:
        """A⁺ v = Aᵀ u with (A Aᵀ) u = v solved per sample by conjugate gradients.

        Exact after one iteration when A Aᵀ is a multiple of the identity on its range (inpainting, area
        downsampling); a few tens of iterations for bicubic downsampling.
        """

        def dot(a: Tensor, b: Tensor) -> Tensor:
            return (a * b).flatten(1).sum(1).view(-1, *[1] * (a.dim() - 1))

        u, r = torch.zeros_like(v), v.clone()
        p, rr = r.clone(), dot(r, r)
        scale = rr.clamp_min(torch.finfo(v.dtype).tiny)
        for _ in range(iterations):
            ap = self.operator(self.adjoint(p, y), y)
            alpha = rr / dot(p, ap).clamp_min(torch.finfo(v.dtype).tiny)
            u, r = u + alpha * p, r - alpha * ap
            rr_next = dot(r, r)
            if bool((rr_next <= tol**2 * scale).all()):
                break
            p, rr = r + (rr_next / rr.clamp_min(torch.finfo(v.dtype).tiny)) * p, rr_next
        return self.adjoint(u, y)


class GaussianNoise(LinearDegradation):
    """y = x + σ n, n ~ N(0, I). `sigma` is a number, or [low, high] for blind denoising (σ ~ U per image)."""

    def __init__(self, sigma: float | Sequence[float]) -> None:
        low, high = (sigma, sigma) if isinstance(sigma, int | float) else tuple(sigma)
        if not 0 <= low <= high:
            raise ConfigError(f"degradation.sigma must be >= 0 (a number or [low, high]), got {sigma}")
        self.low, self.high = float(low), float(high)

    def sigmas(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        if self.low == self.high:
            return torch.full((batch, 1, 1, 1), self.low, device=device)
        u = torch.rand(batch, 1, 1, 1, generator=generator, device=device)
        return self.low + (self.high - self.low) * u

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.sigmas(x.shape[0], generator, x.device) * noise

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return x

    @property
    def noise_free(self) -> bool:
        return self.high == 0


class Downsample(LinearDegradation):
    """y = D_f x: ×f downsampling, `bicubic` (antialiased, as MATLAB imresize) or `area` (box average)."""

    def __init__(self, factor: int, mode: str = "bicubic") -> None:
        if factor not in (2, 3, 4, 8):
            raise ConfigError(f"degradation.factor must be one of 2, 3, 4, 8, got {factor}")
        if mode not in ("bicubic", "area"):
            raise ConfigError(f"degradation.mode must be 'bicubic' or 'area', got {mode!r}")
        self.factor, self.mode = factor, mode

    def check_image_size(self, height: int, width: int, key: str = "data.source.crop_size") -> None:
        if height % self.factor or width % self.factor:
            raise ConfigError(f"{key}={height}x{width} is not divisible by degradation.factor={self.factor}")

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.mode == "area":
            return F.avg_pool2d(x, self.factor)
        return F.interpolate(x, scale_factor=1 / self.factor, mode="bicubic", antialias=True, align_corners=False)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.operator(x)

    def lift(self, y: Tensor) -> Tensor:
        return F.interpolate(y, scale_factor=self.factor, mode="bicubic", align_corners=False)

    def image_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*shape[:-2], shape[-2] * self.factor, shape[-1] * self.factor)


class GaussianBlur(LinearDegradation):
    """y = k_σ * x: convolution with a normalised Gaussian kernel of std `sigma` px (size 2⌈3σ⌉ + 1 unless
    `kernel_size` is given), reflect padding, as torchvision's gaussian_blur. Deblurring; compose with noise.
    A Aᵀ of a wide blur is ill-conditioned, so its pseudo-inverse (data consistency) needs many CG iterations."""

    def __init__(self, sigma: float, kernel_size: int | None = None) -> None:
        if sigma <= 0:
            raise ConfigError(f"degradation.sigma (blur) must be > 0, got {sigma}")
        kernel_size = kernel_size or 2 * math.ceil(3 * sigma) + 1
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"degradation.kernel_size must be odd and positive, got {kernel_size}")
        self.sigma, self.kernel_size = float(sigma), kernel_size

    def check_image_size(self, height: int, width: int, key: str = "data.source.crop_size") -> None:
        if self.kernel_size // 2 >= min(height, width):
            raise ConfigError(
                f"degradation.kernel_size={self.kernel_size} needs images larger than {self.kernel_size // 2} px "
                f"(reflect padding), got {key}={height}x{width}"
            )

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return TF.gaussian_blur(x, [self.kernel_size] * 2, [self.sigma] * 2)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.operator(x)


class Colorization(LinearDegradation):
    """y = luma(x) = 0.299 R + 0.587 G + 0.114 B (ITU-R 601); lift(y) = g⁻¹(y) replicates the grey channel into
    RGB. A Aᵀ = ‖w‖² I, so A⁺ is exact after one CG step."""

    weights = (0.299, 0.587, 0.114)

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if x.shape[1] != 3:
            raise ValueError(f"colorization needs RGB images, got {x.shape[1]} channels")
        return (x * x.new_tensor(self.weights).view(1, 3, 1, 1)).sum(1, keepdim=True)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.operator(x)

    def lift(self, y: Tensor) -> Tensor:
        return y.expand(-1, 3, *y.shape[2:])

    def lifted_channels(self, channels: int) -> int:
        if channels != 3:
            raise ConfigError(f"degradation=colorization needs data.source.channels=3, got {channels}")
        return 3

    def image_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], 3, *shape[2:])


class JPEG(Degradation):
    """y = decode(encode_jpeg(quantize₈(x), quality)) with libjpeg through torchvision (4:2:0 chroma for RGB).
    `quality` in [1, 100], or [low, high] for a random integer quality per image (blind JPEG restoration).
    Not linear: no adjoint, no data consistency."""

    def __init__(self, quality: int | Sequence[int]) -> None:
        low, high = (quality, quality) if isinstance(quality, int) else tuple(quality)
        if not 1 <= low <= high <= 100:
            raise ConfigError(f"degradation.quality must be in [1, 100] (a number or [low, high]), got {quality}")
        self.low, self.high = int(low), int(high)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        qualities = torch.randint(self.low, self.high + 1, (len(x),), generator=generator, device=x.device)
        pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        out = [TF.jpeg(image, int(q)) for image, q in zip(pixels, qualities.tolist(), strict=True)]
        return (torch.stack(out).to(x.device, x.dtype)) / 255


class Inpainting(LinearDegradation):
    """y = (m ⊙ x, m): masked image plus the binary mask m (1 = observed) as a last channel.

    mask: `center` (a centred box covering `fraction` of each side), `boxes` (`num_boxes` random boxes, each side
    up to `fraction` of the image), or `pixels` (each pixel missing with probability `fraction`).
    """

    def __init__(self, mask: str = "center", fraction: float = 0.5, num_boxes: int = 3) -> None:
        if mask not in ("center", "boxes", "pixels"):
            raise ConfigError(f"degradation.mask must be 'center', 'boxes' or 'pixels', got {mask!r}")
        if not 0 < fraction < 1:
            raise ConfigError(f"degradation.fraction must be in (0, 1), got {fraction}")
        self.mask, self.fraction, self.num_boxes = mask, fraction, num_boxes

    def masks(self, shape: torch.Size, generator: torch.Generator | None, device: torch.device) -> Tensor:
        b, _, h, w = shape
        if self.mask == "pixels":
            return (torch.rand(b, 1, h, w, generator=generator, device=device) >= self.fraction).float()
        m = torch.ones(b, 1, h, w, device=device)
        if self.mask == "center":
            bh, bw = round(h * self.fraction), round(w * self.fraction)
            m[..., (h - bh) // 2 : (h - bh) // 2 + bh, (w - bw) // 2 : (w - bw) // 2 + bw] = 0
            return m
        for i in range(b):
            for _ in range(self.num_boxes):
                size = torch.rand(2, generator=generator, device=device) * self.fraction
                bh, bw = max(1, int(size[0] * h)), max(1, int(size[1] * w))
                top = int(torch.randint(0, h - bh + 1, (1,), generator=generator, device=device))
                left = int(torch.randint(0, w - bw + 1, (1,), generator=generator, device=device))
                m[i, :, top : top + bh, left : left + bw] = 0
        return m

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        m = self.masks(x.shape, generator, x.device)
        return torch.cat([m * x, m], dim=1)

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None:
            raise ValueError("Inpainting.operator needs the observation y, which carries the mask")
        return y[:, -1:] * x

    def measurement(self, y: Tensor) -> Tensor:
        return y[:, :-1]

    def lifted_channels(self, channels: int) -> int:
        return channels + 1


class Compose(LinearDegradation):
    """Apply degradations in order, e.g. [Downsample, GaussianNoise]; `Inpainting` may only come last.

    Noise before masking is equivalent in distribution to masked noise, so every chain stays expressible.
    """

    def __init__(self, steps: Sequence[Degradation]) -> None:
        self.steps = list(steps)
        if not self.steps:
            raise ConfigError("degradation.steps must list at least one degradation")
        if any(isinstance(s, Inpainting) for s in self.steps[:-1]):
            raise ConfigError("degradation.steps: Inpainting must be the last step (it appends a mask channel)")

    @property
    def linear(self) -> bool:
        return all(isinstance(s, LinearDegradation) for s in self.steps)

    def check_image_size(self, height: int, width: int, key: str = "data.source.crop_size") -> None:
        for s in self.steps:
            s.check_image_size(height, width, key)
            if isinstance(s, Downsample):
                height, width = height // s.factor, width // s.factor

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for s in self.steps:
            x = s(x, generator)
        return x

    def operator(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if not self.linear:
            raise TypeError("Compose.operator: not every step is linear")
        for s in self.steps:
            x = s.operator(x, y)
        return x

    def measurement(self, y: Tensor) -> Tensor:
        return self.steps[-1].measurement(y) if isinstance(self.steps[-1], LinearDegradation) else y

    @property
    def noise_free(self) -> bool:
        return self.linear and all(s.noise_free for s in self.steps)

    def image_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for s in reversed(self.steps):
            if isinstance(s, LinearDegradation):
                shape = s.image_shape(shape)
        return shape

    def lift(self, y: Tensor) -> Tensor:
        for s in reversed(self.steps):
            y = s.lift(y)
        return y

    def lifted_channels(self, channels: int) -> int:
        for s in self.steps:
            channels = s.lifted_channels(channels)
        return channels
