"""Small image utilities shared by the sources: conversion to [0, 1] tensors, channels, crops, augmentation."""

import numpy as np
import torch
from torch import Tensor

# ITU-R BT.709 luma, the weights of skimage.color.rgb2gray.
_LUMA = torch.tensor([0.2125, 0.7154, 0.0721]).view(3, 1, 1)


def to_tensor(image: np.ndarray) -> Tensor:
    """uint8/bool/float array (H, W) or (H, W, C) -> float32 tensor (C, H, W) in [0, 1] (alpha dropped)."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = np.atleast_3d(array.astype(np.float32))[..., :3]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def to_channels(image: Tensor, channels: int) -> Tensor:
    """Convert (C, H, W) to 1 (luma) or 3 (replicated grey) channels."""
    c = image.shape[0]
    if c == channels:
        return image
    if channels == 1 and c == 3:
        return (image * _LUMA).sum(0, keepdim=True)
    if channels == 3 and c == 1:
        return image.expand(3, -1, -1).clone()
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def crop_corner(height: int, width: int, size: int, generator: torch.Generator) -> tuple[int, int]:
    """(top, left) of a uniformly placed size×size crop of a height×width image."""
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    return top, left


def random_crop(image: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A uniformly placed size×size crop of (C, H, W)."""
    top, left = crop_corner(*image.shape[-2:], size, generator)
    return image[:, top : top + size, left : left + size]


def center_crop(image: Tensor, size: int) -> Tensor:
    _, h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size]


def random_dihedral(image: Tensor, generator: torch.Generator) -> Tensor:
    """One of the 8 flips/rotations of a square crop, uniformly (BasicSR's `augment`)."""
    k, flip = torch.randint(0, 4, (1,), generator=generator), torch.randint(0, 2, (1,), generator=generator)
    image = torch.rot90(image, int(k), dims=(1, 2))
    return image.flip(2) if int(flip) else image
