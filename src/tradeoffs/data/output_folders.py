"""Images and restorations read from folders, matched by name: clean `<id>.png`, and for a method either one output
per input (`<id>.png`) or K samples per input (`<id>/<k>.png`, the layout PUQ and other uncertainty tools read).

Every problem (a missing folder or file, an unreadable file, another size or channel count than the clean image, a
different K between inputs) is a ConfigError naming the folder and the file.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from tradeoffs.core.errors import ConfigError
from tradeoffs.data.folder import EXTENSIONS
from tradeoffs.data.images import to_tensor


def write_image(path: Path, image: Tensor) -> None:
    """(C, H, W) in [0, 1] -> an 8-bit PNG (grey for C = 1), rounding to nearest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


def image_files(root: str | Path, key: str) -> dict[str, Path]:
    """{id: file} of the images directly in `root` (the id is the file name without its extension)."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{key}={root}: no such directory")
    files = {p.stem: p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in EXTENSIONS}
    if not files:
        raise ConfigError(f"{key}={root}: no {'/'.join(e[1:].upper() for e in EXTENSIONS)} images in it")
    return files


def read_image(path: Path, key: str) -> Tensor:
    """(C, H, W) in [0, 1] with the file's own channel count (1 for grey, 3 for colour; alpha dropped)."""
    try:
        with Image.open(path) as image:
            mode = "L" if image.mode in ("1", "L", "I;16", "I", "F") else "RGB"
            return to_tensor(np.asarray(image.convert(mode)))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ConfigError(f"{key}: cannot read {path} ({type(error).__name__})") from None


def read_like(path: Path, shape: tuple[int, ...], key: str) -> Tensor:
    """The image at `path`, which must have `shape` (C, H, W): that of the clean image with its id."""
    image = read_image(path, key)
    if tuple(image.shape) != tuple(shape):
        c, h, w = image.shape
        raise ConfigError(
            f"{key}: {path} is {h}x{w} with {c} channel(s), the clean image is {shape[1]}x{shape[2]} with "
            f"{shape[0]} channel(s)"
        )
    return image


def read_clean(root: str | Path, key: str) -> tuple[list[str], Tensor]:
    """(ids in name order, clean images (N, C, H, W)); all of one size and channel count."""
    files = image_files(root, key)
    first = read_image(next(iter(files.values())), key)
    return list(files), torch.stack([read_like(path, first.shape, key) for path in files.values()])


def read_outputs(root: str | Path, ids: list[str], clean: Tensor, key: str) -> Tensor:
    """The restorations of the inputs `ids` (their clean images `clean`, (N, C, H, W)) in `root`: (N, K, C, H, W),
    K = 1 for `<id>.png` files, else the number of files in each `<id>/` folder (the same for every input)."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{key}={root}: no such directory")
    per_input = []
    for name in ids:
        if (path / name).is_dir():
            samples = list(image_files(path / name, key).values())
        else:
            samples = [p for p in (path / f"{name}{ext}" for ext in EXTENSIONS) if p.is_file()][:1]
        if not samples:
            raise ConfigError(f"{key}={root}: no output for {name} (expected {name}.png or {name}/<k>.png)")
        per_input.append(torch.stack([read_like(p, clean.shape[1:], key) for p in samples]))
    counts = {len(s) for s in per_input}
    if len(counts) > 1:
        raise ConfigError(f"{key}={root}: inputs have different numbers of samples ({sorted(counts)})")
    return torch.stack(per_input)
