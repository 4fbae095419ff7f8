import io

import numpy as np
import pytest
import scipy.ndimage
import skimage.data
import torch
import torch.nn.functional as F
from PIL import Image

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.data.degradations import JPEG, Colorization, Compose, Downsample, GaussianBlur, GaussianNoise, Inpainting

LINEAR = {
    "noise": GaussianNoise(0.1),
    "bicubic_x4": Downsample(4, "bicubic"),
    "area_x2": Downsample(2, "area"),
    "inpaint_boxes": Inpainting("boxes", 0.4),
    "inpaint_pixels": Inpainting("pixels", 0.5),
    "sr4_noisy": Compose([Downsample(4), GaussianNoise(0.05)]),
    "noisy_inpainting": Compose([GaussianNoise(0.05), Inpainting("center")]),
    "blur": GaussianBlur(1.5),
    "blur_noise": Compose([GaussianBlur(2.0), GaussianNoise(0.01)]),
    "colorization": Colorization(),
}


def pil_bicubic(image: np.ndarray, factor: int) -> np.ndarray:
    """PIL's antialiased bicubic reduction of one float plane (what MATLAB's imresize and torch's antialias follow)."""
    h, w = image.shape
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((w // factor, h // factor), 3))


def scipy_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable correlation with the normalised Gaussian of size 2⌈3σ⌉ + 1, mirror padding (torch's reflect)."""
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2))
    kernel /= kernel.sum()
    along_rows = scipy.ndimage.correlate1d(image, kernel, axis=0, mode="mirror")
    return scipy.ndimage.correlate1d(along_rows, kernel, axis=1, mode="mirror")


def planes(function):
    """A per-plane numpy reference applied to a (C, H, W) array."""
    return lambda x, mask: np.stack([function(plane) for plane in x])


def masked(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return x * mask


# A written independently of the operators: numpy, scipy and PIL on one (C, H, W) image and its mask (1 = observed)
REFERENCES = {
    "noise": lambda x, mask: x,
    "bicubic_x4": planes(lambda p: pil_bicubic(p, 4)),
    "area_x2": lambda x, mask: x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2).mean(axis=(2, 4)),
    "inpaint_boxes": masked,
    "inpaint_pixels": masked,
    "sr4_noisy": planes(lambda p: pil_bicubic(p, 4)),
    "noisy_inpainting": masked,
    "blur": planes(lambda p: scipy_blur(p, 1.5)),
    "blur_noise": planes(lambda p: scipy_blur(p, 2.0)),
    "colorization": lambda x, mask: np.tensordot(np.array([0.299, 0.587, 0.114]), x, axes=1)[None],
}
TOLERANCE = {"bicubic_x4": 1e-6, "sr4_noisy": 1e-6}  # PIL reduces in float32


@pytest.mark.parametrize("name", LINEAR)
def test_each_operator_and_its_adjoint_match_an_independent_reference(name):
    """A x equals a numpy/scipy/PIL reference, and Aᵀ v equals the transpose of that reference's explicit matrix
    (its columns: the reference applied to each basis image of a 3×12×12 image, a 16×16 one for ×4)."""
    d, reference = LINEAR[name], REFERENCES[name]
    size = 16 if "4" in name else 12
    g = generator_for(1, 2)
    x = torch.rand(1, 3, size, size, generator=g, dtype=torch.float64)
    y = d(x, g)
    mask = y[0, -1:].numpy() if "inpaint" in name else None
    tol = TOLERANCE.get(name, 1e-12)
    np.testing.assert_allclose(d.operator(x, y)[0].numpy(), reference(x[0].numpy(), mask), atol=tol, rtol=0)
    basis = np.eye(x[0].numel()).reshape(-1, *x.shape[1:])
    matrix = np.stack([reference(e, mask).ravel() for e in basis], axis=1)  # A: (measurements, pixels)
    v = torch.randn(d.operator(x, y).shape, generator=g, dtype=torch.float64)
    expected = (matrix.T @ v.numpy().ravel()).reshape(x.shape)
    np.testing.assert_allclose(d.adjoint(v, y).numpy(), expected, atol=tol, rtol=0)


def test_area_adjoint_is_scaled_nearest_upsampling():
    v = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    expected = F.interpolate(v, scale_factor=2, mode="nearest") / 4
    torch.testing.assert_close(Downsample(2, "area").adjoint(v), expected)


def test_noise_statistics_and_blind_range():
    x = torch.zeros(4000, 1, 4, 4)
    y = GaussianNoise(0.2)(x, generator_for(0))
    assert abs(y.std().item() - 0.2) < 0.005 and abs(y.mean().item()) < 0.005
    sigmas = GaussianNoise([0.05, 0.3])(torch.zeros(2000, 1, 32, 32), generator_for(1)).flatten(1).std(dim=1)
    assert 0.05 * 0.9 < sigmas.min() and sigmas.max() < 0.3 * 1.1  # per-image σ stays inside [low, high]
    assert abs(sigmas.mean().item() - 0.175) < 0.005  # σ ~ U[low, high]: mean (low + high) / 2


def test_shapes_and_lift():
    x = torch.rand(2, 3, 32, 32)
    sr = Compose([Downsample(4), GaussianNoise(0.0)])
    y = sr(x)
    assert y.shape == (2, 3, 8, 8) and sr.lift(y).shape == x.shape and sr.lifted_channels(3) == 3
    torch.testing.assert_close(y, F.interpolate(x, scale_factor=0.25, mode="bicubic", antialias=True))
    inpaint = Inpainting("center", 0.5)
    y = inpaint(x)
    assert y.shape == (2, 4, 32, 32) and inpaint.lifted_channels(3) == 4
    mask = y[:, -1]
    assert mask[:, 8:24, 8:24].sum() == 0 and mask.sum() == 2 * (32 * 32 - 16 * 16)
    torch.testing.assert_close(y[:, :3], x * mask[:, None])


def test_pixel_mask_fraction():
    y = Inpainting("pixels", 0.7)(torch.rand(8, 1, 64, 64), generator_for(3))
    assert abs(1 - y[:, -1].mean().item() - 0.7) < 0.01


def test_same_generator_same_observation():
    x = torch.rand(2, 3, 16, 16)
    for d in LINEAR.values():
        torch.testing.assert_close(d(x, generator_for(5)), d(x, generator_for(5)))


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: GaussianNoise(-0.1), "degradation.sigma"),
        (lambda: GaussianNoise([0.3, 0.1]), "degradation.sigma"),
        (lambda: Downsample(5), "degradation.factor"),
        (lambda: Downsample(2, "nearest"), "degradation.mode"),
        (lambda: Inpainting("circle"), "degradation.mask"),
        (lambda: Inpainting("center", 1.5), "degradation.fraction"),
        (lambda: Compose([Inpainting(), GaussianNoise(0.1)]), "degradation.steps"),
        (lambda: GaussianBlur(0.0), "degradation.sigma"),
        (lambda: GaussianBlur(1.0, kernel_size=4), "degradation.kernel_size"),
        (lambda: JPEG(0), "degradation.quality"),
        (lambda: JPEG([50, 20]), "degradation.quality"),
        (lambda: Colorization().lifted_channels(1), "data.source.channels"),
    ],
)
def test_bad_parameters_name_their_key(make, key):
    with pytest.raises(ConfigError, match=key):
        make()


def test_downsampling_needs_divisible_size():
    with pytest.raises(ConfigError, match="data.source.crop_size=30x30 is not divisible by degradation.factor=4"):
        Compose([Downsample(4), GaussianNoise(0.1)]).check_image_size(30, 30)


@pytest.mark.parametrize("name", ["area", "bicubic", "inpaint", "sr_noise_free", "blur", "colorization"])
def test_pseudo_inverse_satisfies_penrose_a_pinv_a_equals_a(name):
    degradation = {
        "area": Downsample(4, "area"),
        "bicubic": Downsample(2, "bicubic"),
        "inpaint": Inpainting("boxes", 0.5),
        "sr_noise_free": Compose([Downsample(2), GaussianNoise(0.0)]),
        "blur": GaussianBlur(0.5),  # mild: A Aᵀ of a wide blur is too ill-conditioned for 50 CG iterations
        "colorization": Colorization(),
    }[name]
    g = generator_for(30)
    x = torch.rand(3, 3, 16, 16, generator=g, dtype=torch.float64)
    y = degradation(x, g)
    ax = degradation.operator(x, y)
    recovered = degradation.operator(degradation.pseudo_inverse(ax, y), y)
    torch.testing.assert_close(recovered, ax, rtol=1e-4, atol=1e-4)  # CG stops at a relative residual of 1e-6
    assert degradation.noise_free


def test_pseudo_inverse_of_area_downsampling_is_scaled_adjoint():
    """A = box average over f×f: A Aᵀ = I/f², so A⁺ = f² Aᵀ (nearest upsampling)."""
    v = torch.rand(2, 3, 4, 4, generator=generator_for(31), dtype=torch.float64)
    area = Downsample(4, "area")
    torch.testing.assert_close(area.pseudo_inverse(v), 16 * area.adjoint(v))
    torch.testing.assert_close(area.pseudo_inverse(v), F.interpolate(v, scale_factor=4, mode="nearest"))


def test_noisy_degradations_are_not_noise_free():
    assert not GaussianNoise(0.1).noise_free and not GaussianNoise([0.0, 0.1]).noise_free
    assert not Compose([Downsample(2), GaussianNoise(0.05)]).noise_free


def photo(size: int = 64) -> torch.Tensor:
    return torch.from_numpy(skimage.data.astronaut()[:size, :size].copy()).permute(2, 0, 1)[None].float() / 255


def test_blur_matches_scipy_gaussian_filter():
    """torch's reflect padding is scipy's `mirror` mode; the kernel is truncated at its radius."""
    x = torch.rand(2, 1, 20, 24, generator=generator_for(7), dtype=torch.float64)
    blur = GaussianBlur(1.5)  # 11×11 kernel, radius 5
    expected = scipy.ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 1.5, 1.5), mode="mirror", truncate=5 / 1.5)
    torch.testing.assert_close(blur(x), torch.from_numpy(expected), rtol=1e-10, atol=1e-10)
    assert blur.kernel_size == 11 and GaussianBlur(2.0).kernel_size == 13


def test_blur_keeps_constants_and_needs_room_for_its_padding():
    torch.testing.assert_close(GaussianBlur(2.0)(torch.full((1, 3, 16, 16), 0.3)), torch.full((1, 3, 16, 16), 0.3))
    with pytest.raises(ConfigError, match="degradation.kernel_size=13"):
        Compose([GaussianBlur(2.0), GaussianNoise(0.01)]).check_image_size(6, 32)


def test_colorization_is_itu_601_luma_replicated_by_lift():
    x = photo()
    y = Colorization()(x)
    rgb = skimage.data.astronaut()[:64, :64].astype(np.float64) / 255
    torch.testing.assert_close(y[0, 0].double(), torch.from_numpy(rgb @ [0.299, 0.587, 0.114]), rtol=0, atol=1e-6)
    pil = np.asarray(Image.fromarray(skimage.data.astronaut()[:64, :64]).convert("L"))  # fixed-point, 8 bit
    assert (y[0, 0] * 255 - torch.from_numpy(pil.astype(np.float32))).abs().max() < 1
    lifted = Colorization().lift(y)
    assert lifted.shape == x.shape and torch.equal(lifted[:, 0], lifted[:, 2]) and Colorization().noise_free


def test_jpeg_equals_pillow_and_degrades_with_quality():
    x = photo()
    for quality in (10, 75):
        buffer = io.BytesIO()
        Image.fromarray(skimage.data.astronaut()[:64, :64]).save(buffer, format="JPEG", quality=quality)
        reference = torch.from_numpy(np.asarray(Image.open(buffer)).copy()).permute(2, 0, 1)[None].float() / 255
        torch.testing.assert_close(JPEG(quality)(x), reference, rtol=0, atol=0)  # both run libjpeg(-turbo)
    psnr = [float(-10 * torch.log10((JPEG(q)(x) - x).square().mean())) for q in (10, 50, 95)]
    assert psnr[0] < psnr[1] < psnr[2]


def test_blind_jpeg_draws_one_quality_per_image_from_the_generator():
    x = photo().expand(6, -1, -1, -1)
    blind = JPEG([10, 90])
    y1, y2 = blind(x, generator_for(3)), blind(x, generator_for(3))
    assert torch.equal(y1, y2)
    errors = (y1 - x).square().flatten(1).mean(1)
    assert len(set(errors.tolist())) > 1  # different qualities for different images
