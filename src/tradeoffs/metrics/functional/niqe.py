"""NIQE (Mittal, Soundararajan & Bovik 2013), the no-reference score of the MATLAB release, as pure tensor functions.

An image (grey, [0, 255], rounded as an 8-bit file) is normalised to its MSCN coefficients (x − μ)/(σ + 1), with μ, σ
local Gaussian moments (7×7 window, std 7/6, replicated border). Each non-overlapping patch of `patch` px yields 18
features: the asymmetric generalised Gaussian (AGGD) fit (α, (β_l + β_r)/2) of its coefficients and (α, η, β_l, β_r)
of the products of each coefficient with its right, lower, lower-right and upper-right neighbour (circular within
the patch); the image halved by MATLAB's imresize (bicubic, antialiased) adds 18 more on patches of patch/2 px.
A multivariate Gaussian (μ_p, Σ_p) fitted to the features of sharp patches of pristine images (sharpness: the mean
σ of a patch above 0.75 × the image's sharpest) is the model; an image's score is
sqrt((μ_p − μ_d)ᵀ ((Σ_p + Σ_d)/2)⁺ (μ_p − μ_d)) for the Gaussian (μ_d, Σ_d) of its own patches. Lower is better.
All in float64; patches with a non-finite feature are dropped, as MATLAB's nanmean/nancov do.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

GREY = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB's rgb2gray
_GAMMAS = torch.arange(0.2, 10.0005, 0.001, dtype=torch.float64)  # MATLAB's grid 0.2:0.001:10 for the AGGD shape
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # neighbour pairs: horizontal, vertical, the two diagonals


def to_grey_255(images: Tensor) -> Tensor:
    """(B, C, H, W) in [0, 1] -> (B, 1, H, W) grey levels in [0, 255], rounded as an 8-bit image, float64."""
    images = images.to(torch.float64).clamp(0, 1) * 255
    if images.shape[1] == 3:
        images = (images * images.new_tensor(GREY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return images[:, :1].round()


def gaussian_window(size: int = 7, std: float = 7 / 6) -> Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - size // 2
    window = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * std**2))
    return (window / window.sum()).view(1, 1, size, size)


def mscn(images: Tensor) -> tuple[Tensor, Tensor]:
    """(MSCN coefficients, local σ) of (B, 1, H, W) grey images."""
    window = gaussian_window().to(images.device)
    pad = window.shape[-1] // 2

    def smooth(t: Tensor) -> Tensor:
        return F.conv2d(F.pad(t, (pad,) * 4, mode="replicate"), window)

    mu = smooth(images)
    sigma = (smooth(images * images) - mu * mu).abs().sqrt()
    return (images - mu) / (sigma + 1), sigma


def aggd(rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(α, β_l, β_r) of an asymmetric generalised Gaussian fitted to each row by moment matching (Lasmar et al.)."""
    negative, positive = rows < 0, rows > 0
    left = ((rows * rows * negative).sum(1) / negative.sum(1)).sqrt()  # NaN without negative values, as MATLAB
    right = ((rows * rows * positive).sum(1) / positive.sum(1)).sqrt()
    gamma_hat = left / right
    r_hat = rows.abs().mean(1) ** 2 / (rows * rows).mean(1)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    g = _GAMMAS.to(rows.device)
    r_gamma = torch.lgamma(2 / g).mul(2).sub(torch.lgamma(1 / g) + torch.lgamma(3 / g)).exp()
    alpha = g[(r_gamma[None, :] - r_hat_norm[:, None]).square().argmin(1)]
    ratio = torch.exp(0.5 * (torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)))
    return alpha, left * ratio, right * ratio


def patch_features(coefficients: Tensor, patch: int) -> Tensor:
    """The 18 features of every non-overlapping `patch`-px patch of (B, 1, H, W) MSCN coefficients: (B, L, 18)."""
    b = coefficients.shape[0]
    patches = F.unfold(coefficients, patch, stride=patch).transpose(1, 2).reshape(-1, patch, patch)
    alpha, left, right = aggd(patches.flatten(1))
    features = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        products = (patches * torch.roll(patches, shift, dims=(1, 2))).flatten(1)
        alpha, left, right = aggd(products)
        eta = (right - left) * torch.exp(torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha))
        features += [alpha, eta, left, right]
    return torch.stack(features, 1).view(b, -1, 18)


def matlab_half_matrix(n: int, dtype=torch.float64) -> Tensor:
    """The (⌈n/2⌉, n) matrix of MATLAB's imresize(·, 0.5, 'bicubic') along one axis: the cubic kernel (a = −0.5)
    stretched ×2 for antialiasing, rows normalised, indices past the ends mirrored (symmetric padding)."""

    def cubic(x: Tensor) -> Tensor:
        x = x.abs()
        near = (1.5 * x**3 - 2.5 * x**2 + 1) * (x <= 1)
        far = (-0.5 * x**3 + 2.5 * x**2 - 4 * x + 2) * ((x > 1) & (x <= 2))
        return near + far

    scale, width = 0.5, 8.0
    out = torch.arange(1, math.ceil(n * scale) + 1, dtype=dtype)
    centre = out / scale + 0.5 * (1 - 1 / scale)
    index = torch.floor(centre - width / 2)[:, None] + torch.arange(math.ceil(width) + 2, dtype=dtype)
    weights = scale * cubic(scale * (centre[:, None] - index))
    weights = weights / weights.sum(1, keepdim=True)
    mirrored = torch.cat([torch.arange(n), torch.arange(n - 1, -1, -1)])[((index - 1) % (2 * n)).long()]
    return torch.zeros(len(out), n, dtype=dtype).scatter_add_(1, mirrored, weights)


def halve(images: Tensor) -> Tensor:
    """MATLAB's imresize(images, 0.5) (bicubic, antialiased) of (B, 1, H, W) images."""
    rows = matlab_half_matrix(images.shape[-2]).to(images.device)
    cols = matlab_half_matrix(images.shape[-1]).to(images.device)
    return rows @ images @ cols.T


def niqe_features(grey: Tensor, patch: int = 96) -> tuple[Tensor, Tensor]:
    """(features (B, L, 36) of each patch at both scales, sharpness (B, L): each patch's mean local σ) of grey
    images in [0, 255], cropped to whole patches."""
    h, w = (s // patch * patch for s in grey.shape[-2:])
    image, features, sharpness = grey[..., :h, :w], [], None
    for scale in (1, 2):
        coefficients, sigma = mscn(image)
        size = patch // scale
        features.append(patch_features(coefficients, size))
        if scale == 1:
            sharpness = F.unfold(sigma, size, stride=size).mean(1)
            image = halve(image)
    return torch.cat(features, 2), sharpness


def finite_rows(features: Tensor) -> Tensor:
    return features[torch.isfinite(features).all(1)]


def pristine_model(features: Tensor, sharpness: Tensor, threshold: float = 0.75) -> tuple[Tensor, Tensor]:
    """(μ_p, Σ_p) of the features (N, L, 36) of pristine images' patches whose sharpness exceeds `threshold` × the
    sharpest patch of the same image."""
    keep = sharpness > threshold * sharpness.amax(1, keepdim=True)
    kept = finite_rows(features[keep])
    mean = kept.mean(0)
    return mean, torch.cov(kept.T)


def niqe_scores(features: Tensor, mean: Tensor, covariance: Tensor) -> Tensor:
    """The NIQE score of each image from its patches' features (B, L, 36), against the model (μ_p, Σ_p): (B,)."""
    scores = []
    for image in features:
        own = finite_rows(image)
        difference = mean - own.mean(0)
        pooled = (covariance + torch.cov(own.T)) / 2
        scores.append(torch.sqrt(difference @ torch.linalg.pinv(pooled) @ difference))
    return torch.stack(scores)
