"""Turning float image tensors into uint8 grids for files and loggers (W&B renders float images black)."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid


def to_uint8(images: Tensor) -> Tensor:
    """[0, 1] floats (clipped) -> uint8, rounding to nearest."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def panel(rows: list[Tensor], padding: int = 2, min_size: int = 96) -> np.ndarray:
    """Rows of images (each (N, C, H, W), same N·C·H·W layout) -> one uint8 (H', W', 3) grid, a row per list item.

    Images smaller than `min_size` are enlarged by an integer factor (nearest neighbour, so pixels stay visible).
    """
    images = torch.cat([r.float().cpu() for r in rows])
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    scale = math.ceil(min_size / min(images.shape[-2:]))
    if scale > 1:
        images = F.interpolate(images, scale_factor=scale, mode="nearest")
    grid = make_grid(images, nrow=len(rows[0]), padding=padding, pad_value=1.0)
    return to_uint8(grid).permute(1, 2, 0).numpy()


def save_png(array: np.ndarray, path) -> None:
    Image.fromarray(array).save(path)
