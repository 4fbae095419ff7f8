import pytest
import torch
import torch.nn.functional as F

from tradeoffs.data.degradations import Compose, Downsample, GaussianNoise, Inpainting
from tradeoffs.data.seeding import generator_for
from tradeoffs.errors import ConfigError

LINEAR = {
    "noise": GaussianNoise(0.1),
    "bicubic_x4": Downsample(4, "bicubic"),
    "area_x2": Downsample(2, "area"),
    "inpaint_boxes": Inpainting("boxes", 0.4),
    "inpaint_pixels": Inpainting("pixels", 0.5),
    "sr4_noisy": Compose([Downsample(4), GaussianNoise(0.05)]),
    "noisy_inpainting": Compose([GaussianNoise(0.05), Inpainting("center")]),
}


@pytest.mark.parametrize("name", LINEAR)
def test_adjoint_identity(name):
    """<A x, v> = <x, Aᵀ v> for random x, v, in float64."""
    d = LINEAR[name]
    g = generator_for(1, 2)
    x = torch.randn(3, 2, 16, 16, generator=g, dtype=torch.float64)
    y = d(x, g)
    v = torch.randn(d.operator(x, y).shape, generator=g, dtype=torch.float64)
    lhs = (d.operator(x, y) * v).sum()
    rhs = (x * d.adjoint(v, y)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


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
    ],
)
def test_bad_parameters_name_their_key(make, key):
    with pytest.raises(ConfigError, match=key):
        make()


def test_downsampling_needs_divisible_size():
    with pytest.raises(ConfigError, match="data.source.crop_size=30x30 is not divisible by degradation.factor=4"):
        Compose([Downsample(4), GaussianNoise(0.1)]).check_image_size(30, 30)


@pytest.mark.parametrize("name", ["area", "bicubic", "inpaint", "sr_noise_free"])
def test_pseudo_inverse_satisfies_penrose_a_pinv_a_equals_a(name):
    degradation = {
        "area": Downsample(4, "area"),
        "bicubic": Downsample(2, "bicubic"),
        "inpaint": Inpainting("boxes", 0.5),
        "sr_noise_free": Compose([Downsample(2), GaussianNoise(0.0)]),
    }[name]
    g = generator_for(30)
    x = torch.rand(3, 1, 16, 16, generator=g, dtype=torch.float64)
    y = degradation(x, g)
    ax = degradation.operator(x, y)
    recovered = degradation.operator(degradation.pseudo_inverse(ax, y), y)
    torch.testing.assert_close(recovered, ax, rtol=1e-5, atol=1e-5)  # CG stops at a relative residual of 1e-6
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
