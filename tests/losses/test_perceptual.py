"""Perceptual losses: ESRGAN's VGG19 features and LPIPS, against torchvision's and the lpips package's own loading of
the same weights, frozen, zero at x̂ = x, and a gradient that reaches the generator."""

from functools import partial

import lpips
import pytest
import torch
import torchvision
from torchvision.models import VGG16_Weights, VGG19_Weights

from tests.models.test_gan import tiny_gan
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.losses.perceptual import LPIPSLoss, VGGFeatureLoss


@pytest.fixture
def hub(tmp_path):
    """An empty torch hub cache; `hub.put(name, module)` stores a (random) backbone's weights there by file name."""
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)

    class Hub:
        @staticmethod
        def put(name: str, module: torch.nn.Module):
            torch.save(module.state_dict(), tmp_path / "hub" / "checkpoints" / name)

    yield Hub
    torch.hub.set_dir(before)


def images(n=2, channels=3, size=32, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def test_vgg_features_are_torchvision_s_vgg19_at_conv5_4_before_its_activation(hub):
    torch.manual_seed(0)
    hub.put("vgg19-dcbb9e9d.pth", torchvision.models.vgg19())
    loss = VGGFeatureLoss()  # from the hub cache
    reference = torchvision.models.vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features[:35].eval()
    assert isinstance(reference[-1], torch.nn.Conv2d) and isinstance(loss.features[-1], torch.nn.Conv2d)
    a, b = images(seed=1), images(seed=2)
    normalise = torchvision.transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    expected = (reference(normalise(a)) - reference(normalise(b))).abs().mean()
    torch.testing.assert_close(loss(a, b), expected)
    grey = images(channels=1, seed=3)
    torch.testing.assert_close(loss(grey, b), loss(grey.expand(-1, 3, -1, -1), b))


def test_lpips_loss_equals_the_lpips_package_loading_the_same_backbone(hub):
    torch.manual_seed(0)
    hub.put("vgg16-397923af.pth", torchvision.models.vgg16())
    ours = LPIPSLoss("vgg")
    theirs = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=False, verbose=False).eval()
    assert all(
        torch.equal(p, q) for p, q in zip(ours.lpips.state_dict().values(), theirs.state_dict().values(), strict=True)
    )
    a, b = images(seed=1), images(seed=2)
    torch.testing.assert_close(ours(a, b), theirs(a, b, normalize=True).mean())
    assert VGG16_Weights.IMAGENET1K_V1.url.endswith("vgg16-397923af.pth")


@pytest.mark.parametrize("make", [partial(VGGFeatureLoss, weights="random"), partial(LPIPSLoss, weights="random")])
def test_a_perceptual_loss_is_zero_at_the_clean_image_frozen_and_in_eval_mode(make):
    loss, x = make(), images()
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-7)
    assert loss(images(seed=5), x).item() > 0
    assert not loss.training and not any(p.requires_grad for p in loss.parameters())


def test_the_perceptual_term_s_gradient_reaches_the_generator_and_leaves_the_backbone_alone():
    model = tiny_gan(
        adv_weight=0.0,
        distortion_weight=0.0,
        perceptual_weight=1.0,
        perceptual=partial(VGGFeatureLoss, "conv2_2", "random"),
    )
    assert model.perceptual_loss is None  # built when a run starts, never to evaluate a checkpoint
    model.check_start()
    backbone = [p.clone() for p in model.perceptual_loss.parameters()]
    x = images(4, 1, 16)
    y = model.degradation(x, generator_for(1))
    _, task = model.training_output(x, y, y, generator_for(2))
    task.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert all(p.grad is None for p in model.perceptual_loss.parameters())
    assert all(torch.equal(p, q) for p, q in zip(backbone, model.perceptual_loss.parameters(), strict=True))
    assert not any(name.startswith("perceptual") for name in model.state_dict())  # checkpoints do not carry it


def test_missing_weights_and_bad_settings_are_named(hub, tmp_path):
    with pytest.raises(
        ConfigError, match=r"model.perceptual.weights: pretrained weights .*vgg19-dcbb9e9d.pth are missing"
    ):
        VGGFeatureLoss()
    with pytest.raises(ConfigError, match=r"model.perceptual.weights=.*nothing.pth: no such file"):
        LPIPSLoss(weights=str(tmp_path / "nothing.pth"))
    with pytest.raises(ConfigError, match=r"model.perceptual.layer must be one of \['conv1_1'"):
        VGGFeatureLoss("relu5_4", "random")
    with pytest.raises(ConfigError, match="model.perceptual.criterion"):
        VGGFeatureLoss(weights="random", criterion="huber")
    with pytest.raises(ConfigError, match="model.perceptual.net"):
        LPIPSLoss("squeeze", "random")
    with pytest.raises(ConfigError, match="model.perceptual_weight > 0 needs a model.perceptual loss"):
        tiny_gan(perceptual_weight=1.0)
    with pytest.raises(ConfigError, match="model.perceptual_weight must be a number >= 0"):
        tiny_gan(perceptual_weight=-1.0)
    model = tiny_gan(perceptual_weight=1.0, perceptual=VGGFeatureLoss)
    with pytest.raises(ConfigError, match="vgg19-dcbb9e9d.pth are missing"):
        model.check_start()  # train calls it before the trainer is built
