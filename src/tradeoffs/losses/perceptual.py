"""Perceptual (feature) losses for training a restorer: ESRGAN's VGG19 features, or LPIPS.

`VGGFeatureLoss`: mean |φ(x̂) − φ(x)| (or its square) with φ torchvision's VGG19 `features` up to `layer`, before its
activation (ESRGAN: conv5_4), on ImageNet-normalised RGB. `LPIPSLoss`: the lpips package's LPIPS(x̂, x) (its learned
linear heads on a VGG16 or AlexNet backbone), averaged over images. Grey images are replicated to RGB. Backbones are
frozen and in eval mode (the restorer keeps the loss out of its module tree, so nothing switches it to training
and checkpoints do not carry it); their weights come from the torch hub cache or a named file and are never downloaded
(`weights=random` keeps a random backbone: the random-features ablation, and the tests).
"""

import warnings

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.images import as_rgb
from tradeoffs.metrics.weights import ALEXNET, VGG16, VGG19, torchvision_weights

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CRITERIA = {"l1": F.l1_loss, "l2": F.mse_loss}


def conv_indices(features: nn.Sequential) -> dict[str, int]:
    """`convB_I` (I-th convolution of block B, blocks split by max-pooling) -> its index in `features`."""
    names, block, conv = {}, 1, 0
    for index, layer in enumerate(features):
        if isinstance(layer, nn.MaxPool2d):
            block, conv = block + 1, 0
        elif isinstance(layer, nn.Conv2d):
            conv += 1
            names[f"conv{block}_{conv}"] = index
    return names


class VGGFeatureLoss(nn.Module):
    """ESRGAN's perceptual loss (Wang et al. 2018, after Johnson et al. 2016); `weights`: null (torch hub cache),
    a file, or `random`; `criterion`: l1 | l2."""

    def __init__(self, layer: str = "conv5_4", weights: str | None = None, criterion: str = "l1") -> None:
        super().__init__()
        if criterion not in CRITERIA:
            raise ConfigError(f"model.perceptual.criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
        vgg = torchvision.models.vgg19()
        if weights != "random":
            vgg.load_state_dict(torchvision_weights(VGG19, weights, "model.perceptual.weights"))
        indices = conv_indices(vgg.features)
        if layer not in indices:
            raise ConfigError(f"model.perceptual.layer must be one of {list(indices)}, got {layer!r}")
        self.features, self.criterion = vgg.features[: indices[layer] + 1], CRITERIA[criterion]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()

    def embed(self, images: Tensor) -> Tensor:
        return self.features((as_rgb(images) - self.mean) / self.std)

    def forward(self, restored: Tensor, clean: Tensor) -> Tensor:
        with torch.no_grad():
            target = self.embed(clean)
        return self.criterion(self.embed(restored), target)


class LPIPSLoss(nn.Module):
    """LPIPS (Zhang et al. 2018) as a loss; `net`: vgg (VGG16) | alex; `weights` of the backbone as for VGG19. The
    linear heads ship inside the lpips package."""

    BACKBONES = {"vgg": VGG16, "alex": ALEXNET}

    def __init__(self, net: str = "vgg", weights: str | None = None) -> None:
        super().__init__()
        if net not in self.BACKBONES:
            raise ConfigError(f"model.perceptual.net must be one of {sorted(self.BACKBONES)}, got {net!r}")
        import lpips

        with warnings.catch_warnings():  # lpips builds its random backbone with torchvision's deprecated argument
            warnings.simplefilter("ignore", UserWarning)
            self.lpips = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        if weights != "random":
            state = torchvision_weights(self.BACKBONES[net], weights, "model.perceptual.weights")
            backbone = {  # lpips keeps torchvision's layer indices: slice2.4.weight is features.4.weight
                name: state[f"features.{name.split('.', 1)[1]}"] for name in self.lpips.net.state_dict()
            }
            self.lpips.net.load_state_dict(backbone)
        self.requires_grad_(False).eval()

    def forward(self, restored: Tensor, clean: Tensor) -> Tensor:
        return self.lpips(as_rgb(restored), as_rgb(clean), normalize=True).mean()
