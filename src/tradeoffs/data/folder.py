"""Clean images from a directory tree of PNG/JPEG/BMP files (DIV2K, BSD, FFHQ, ... layouts).

Training: random crops (+ flips/rotations) of the files under `root`. Validation: deterministic centre crops of the
files under `val_root`, or, without one, of every k-th file of `root` (held out from training; k = 1/val_fraction).
Test (`split=test` of evaluate and traverse): centre crops of the files under `test_root`, when given.
"""

import logging
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.decoded_cache import DecodedCache, decode
from tradeoffs.data.images import center_crop, crop_corner, random_dihedral, to_tensor
from tradeoffs.data.sources import ImageSource

log = logging.getLogger(__name__)
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def image_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a readable image, None for an unreadable or corrupt file."""
    try:
        with Image.open(path) as im:
            im.verify()
            return im.height, im.width
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def scan_images(root: str | Path, key: str, cache: DecodedCache | None = None) -> list[tuple[Path, tuple[int, int]]]:
    """Readable images under root with their (height, width); unreadable files are skipped with one warning. With
    a cache, only files new or changed since the last scan are opened."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{key}={root}: no such directory")
    candidates = sorted(p for p in path.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    sizes = cache.scan(path, candidates, image_size) if cache else {p: image_size(p) for p in candidates}
    found = [(p, size) for p, size in sizes.items() if size is not None]
    bad = [p for p, size in sizes.items() if size is None]
    if bad:
        log.warning("skipped %d unreadable or corrupt image file(s) under %s (first: %s)", len(bad), path, bad[0])
    if not found:
        raise ConfigError(f"{key}={root}: no readable {'/'.join(e[1:].upper() for e in EXTENSIONS)} images found")
    return found


def load_image(path: Path, channels: int) -> Tensor:
    return to_tensor(decode(path, channels))


class ImageFolder(ImageSource):
    def __init__(
        self,
        root: str,
        crop_size: int,
        channels: int = 3,
        val_root: str | None = None,
        test_root: str | None = None,
        val_fraction: float = 0.1,
        val_crop_size: int | None = None,
        num_val: int | None = None,
        augment: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        if channels not in (1, 3):
            raise ConfigError(f"data.source.channels must be 1 or 3, got {channels}")
        self.cache = DecodedCache(cache_dir) if cache_dir else None
        files = scan_images(root, "data.source.root", self.cache)
        if val_root is not None:
            val_files = scan_images(val_root, "data.source.val_root", self.cache)
        else:
            if not 0 < val_fraction < 1 or len(files) < 2:
                raise ConfigError(
                    f"data.source.val_fraction={val_fraction} with {len(files)} image(s) under data.source.root "
                    "leaves no train/validation split; set data.source.val_root"
                )
            step = max(2, round(1 / val_fraction))
            val_files, files = files[::step], [f for i, f in enumerate(files) if i % step]
        self.val_crop_size = val_crop_size or crop_size
        for key, size, group in (("crop_size", crop_size, files), ("val_crop_size", self.val_crop_size, val_files)):
            path, (h, w) = min(group, key=lambda f: min(f[1]))
            if size > min(h, w):
                raise ConfigError(f"data.source.{key}={size} is larger than image {path} ({h}x{w})")
        self.files = [p for p, _ in files]
        self.val_files = [p for p, _ in val_files][:num_val]
        test_files = scan_images(test_root, "data.source.test_root", self.cache) if test_root else None
        self.test_files = None if test_files is None else [p for p, _ in test_files]
        self.channels, self.crop_size, self.augment = channels, crop_size, augment
        self.validation_size_key = "data.source.val_crop_size" if val_crop_size else "data.source.crop_size"

    def training_crop(self) -> tuple[str, int]:
        return "data.source.crop_size", self.crop_size

    def sample(self, generator: torch.Generator) -> Tensor:
        """A random crop of a random training file (the same draws with and without the cache)."""
        path = self.files[int(torch.randint(0, len(self.files), (1,), generator=generator))]
        image = self.cache.array(path, self.channels) if self.cache else decode(path, self.channels)
        top, left = crop_corner(*image.shape[:2], self.crop_size, generator)
        crop = to_tensor(image[top : top + self.crop_size, left : left + self.crop_size])
        return random_dihedral(crop, generator) if self.augment else crop

    def validation_images(self) -> Tensor:
        return self.center_crops(self.val_files, "data.source.val_crop_size")

    def test_images(self) -> Tensor | None:
        return None if self.test_files is None else self.center_crops(self.test_files, "data.source.val_crop_size")

    def center_crops(self, files: list[Path], key: str) -> Tensor:
        crops = []
        for path in files:
            image = load_image(path, self.channels)
            if self.val_crop_size > min(image.shape[-2:]):
                raise ConfigError(f"{key}={self.val_crop_size} is larger than image {path} {tuple(image.shape[-2:])}")
            crops.append(center_crop(image, self.val_crop_size))
        return torch.stack(crops)
