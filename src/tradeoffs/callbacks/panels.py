"""Image panels of every measurement, as uint8 grids for files and loggers (W&B renders float images black).

Each measurement writes `images/{stage}_epochNNN.png` (a row per input, a header per column: observation, clean, K
samples, per-pixel std map, |error| map of the first sample (channel means scaled to their maximum), then each
auxiliary map, e.g. a fusion restorer's φ on [0, 1]), logs it to W&B against `epoch`, and saves
`images/panel_samples.npz` (the latest observation, clean images and K samples of the panel inputs, float32), from
which the curve tool draws its strip of restorations across a sweep.
"""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import wandb
from PIL import Image, ImageDraw, ImageFont
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor
from torchvision.utils import make_grid

from tradeoffs.callbacks.tradeoff_metrics import MeasurementListener
from tradeoffs.core.images import as_rgb
from tradeoffs.core.runs import PANEL_SAMPLES_FILE
from tradeoffs.metrics.measure import Measured


def to_uint8(images: Tensor) -> Tensor:
    """[0, 1] floats (clipped) -> uint8, rounding to nearest."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def panel(rows: list[Tensor], padding: int = 2, min_size: int = 96, headers: list[str] = ()) -> np.ndarray:
    """Rows of images (each (N, C, H, W), same N·C·H·W layout) -> one uint8 (H', W', 3) grid, a row per list item,
    under a band of column `headers` when given (one per column).

    Images smaller than `min_size` are enlarged by an integer factor (nearest neighbour, so pixels stay visible).
    """
    if headers and len(headers) != len(rows[0]):
        raise ValueError(f"{len(headers)} headers for {len(rows[0])} columns")
    images = as_rgb(torch.cat([r.float().cpu() for r in rows]))
    scale = math.ceil(min_size / min(images.shape[-2:]))
    if scale > 1:
        images = F.interpolate(images, scale_factor=scale, mode="nearest")
    grid = make_grid(images, nrow=len(rows[0]), padding=padding, pad_value=1.0)
    grid = to_uint8(grid).permute(1, 2, 0).numpy()
    return with_headers(grid, headers, images.shape[-1], padding) if headers else grid


def with_headers(grid: np.ndarray, headers: list[str], width: int, padding: int, height: int = 16) -> np.ndarray:
    """A white band of `height` px above the grid with each header centred over its column of `width` px."""
    band = Image.new("RGB", (grid.shape[1], height), "white")
    draw, font = ImageDraw.Draw(band), ImageFont.load_default(size=11)
    for column, text in enumerate(headers):
        centre = padding + column * (width + padding) + width / 2
        draw.text((centre, height / 2), text, fill="black", font=font, anchor="mm")
    return np.concatenate([np.asarray(band), grid])


def save_png(array: np.ndarray, path) -> None:
    Image.fromarray(array).save(path)


def normalised(magnitude: Tensor, channels: int) -> Tensor:
    """A grey (N, 1, H, W) magnitude map scaled to its maximum, repeated over `channels`."""
    return (magnitude / magnitude.amax().clamp_min(1e-8)).expand(-1, channels, -1, -1)


def write_panel(output_dir: Path, measured: Measured, panel_images: int = 4) -> tuple[np.ndarray, str] | None:
    """Write `images/{stage}_epochNNN.png` and `images/panel_samples.npz` of the first `panel_images` inputs of a
    measurement; returns (the uint8 panel, its caption), or None without inputs."""
    n = min(panel_images, len(measured.x))
    if n == 0:
        return None
    x, observed, samples = measured.x[:n], measured.observed[:n], measured.samples[:n]
    c = x.shape[1]
    std = samples.std(dim=1, correction=1) if samples.shape[1] > 1 else torch.zeros_like(x)
    std, error = std.mean(1, keepdim=True), (samples[:, 0] - x).abs().mean(1, keepdim=True)
    maps = [normalised(std, c), normalised(error, c)]
    maps += [m[:n].expand(-1, c, -1, -1) for m in measured.maps.values()]
    rows = [torch.cat([observed[i : i + 1], x[i : i + 1], samples[i], *(m[i : i + 1] for m in maps)]) for i in range(n)]
    k = samples.shape[1]
    headers = ["observation", "clean", *(f"sample {j + 1}" for j in range(k)), "std", "|error|", *measured.maps]
    image = panel(rows, headers=headers)
    images = Path(output_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    save_png(image, images / f"{measured.stage}_epoch{measured.epoch:03d}.png")
    arrays = {"observation": observed, "clean": x, "samples": samples}
    np.savez(
        Path(output_dir) / PANEL_SAMPLES_FILE, epoch=measured.epoch, **{k: v.float().numpy() for k, v in arrays.items()}
    )
    caption = (
        f"epoch {measured.epoch}: observation | clean | {samples.shape[1]} samples | per-pixel std "
        f"(max {std.amax():.3g}) | |error| (max {error.amax():.3g})"
        + "".join(f" | {name} map" for name in measured.maps)
    )
    return image, caption


class ImagePanels(MeasurementListener):
    def __init__(self, output_dir: str, panel_images: int = 4) -> None:
        self.output_dir, self.panel_images = Path(output_dir), panel_images

    def on_measured(self, measured: Measured, loggers: list = ()) -> None:
        written = write_panel(self.output_dir, measured, self.panel_images)
        if written is None:
            return
        image, caption = written
        for logger in loggers:
            if isinstance(logger, WandbLogger):
                entry = {f"{measured.stage}/images": wandb.Image(image, caption=caption), "epoch": measured.epoch}
                logger.log_metrics(entry)  # charted against `epoch` like the metrics (val/* step metric)
