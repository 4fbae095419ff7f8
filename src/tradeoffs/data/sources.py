"""The interface every clean-image source implements."""

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class ImageSource(ABC):
    """A distribution of clean images in [0, 1]: random training draws and a fixed validation set."""

    channels: int
    validation_size_key: str = "data.source.crop_size"  # the setting that sizes the validation images

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

    def training_crop(self) -> tuple[str, int] | None:
        """(key, side) of the square training crops where their size is set apart from the validation images'
        (a folder's crop_size beside its val_crop_size); None: training draws have the validation images' size."""
        return None
