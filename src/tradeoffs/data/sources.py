"""The interface every clean-image source implements."""

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class ImageSource(ABC):
    """A distribution of clean images in [0, 1]: random training draws and a fixed validation set."""

    channels: int

    @abstractmethod
    def sample(self, generator: torch.Generator) -> Tensor:
        """One training image (C, H, W), a pure function of the generator's state."""

    @abstractmethod
    def validation_images(self) -> Tensor:
        """The fixed validation images (N, C, H, W); identical on every call, run and machine."""

    def test_images(self) -> Tensor | None:
        """A fixed test set held out from training and validation, or None: `split=test` then measures the
        validation images (the source has no separate test set)."""
        return None
