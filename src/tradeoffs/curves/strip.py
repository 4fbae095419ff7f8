"""The strip: the same validation inputs restored by every job of a sweep, side by side (Blau & Michaeli's Fig. 6).

Columns: observation, clean, then one column per job in the order given (e.g. λ ascending: blurry and accurate →
sharp and hallucinated). Every input gets a row of first samples and, when any job is stochastic, a row of per-pixel
standard deviations across its K samples, on one colour scale shared by all jobs so magnitudes compare (a job
measured with K = 1 says so there: its spread is not measured). Images come
from each job's `images/panel_samples.npz` (written by the metrics callback at its last validation).
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

log = logging.getLogger(__name__)
STRIP_FILE = "strip.png"


@dataclass(frozen=True)
class PanelSamples:
    """One job's panel inputs: observation and clean (N, C, H, W), samples (N, K, C, H, W)."""

    label: str
    observation: np.ndarray
    clean: np.ndarray
    samples: np.ndarray

    @classmethod
    def load(cls, label: str, path: Path) -> "PanelSamples":
        with np.load(path) as f:
            return cls(label, f["observation"], f["clean"], f["samples"])

    @property
    def std(self) -> np.ndarray:
        """Per-pixel std across the K samples, channel mean (N, H, W); zeros for K = 1."""
        if self.samples.shape[1] < 2:
            return np.zeros((len(self.clean), *self.clean.shape[-2:]))
        return self.samples.std(axis=1, ddof=1).mean(axis=1)


def comparable(panels: list[PanelSamples]) -> list[PanelSamples]:
    """The panels that show the same clean images as the first one (others are skipped with a warning)."""
    first, kept = panels[0], []
    for p in panels:
        n = min(len(p.clean), len(first.clean))
        if p.clean.shape[1:] == first.clean.shape[1:] and np.array_equal(p.clean[:n], first.clean[:n]):
            kept.append(p)
        else:
            log.warning("strip: %s shows other validation images than %s: left out", p.label, first.label)
    return kept


def _image(array: np.ndarray) -> tuple[np.ndarray, dict]:
    """(C, H, W) in [0, 1] -> what imshow draws: grey images with a grey colour map."""
    array = np.clip(array, 0, 1)
    if array.shape[0] == 1:
        return array[0], {"cmap": "gray", "vmin": 0, "vmax": 1}
    return array.transpose(1, 2, 0), {}


def draw_band(axes, panels: list[PanelSamples], n: int, stochastic: bool, scale: float) -> None:
    """One band of the strip: observation, clean and one column per job, for n inputs (+ std rows)."""
    first, rows_per_input = panels[0], 1 + stochastic
    for i in range(n):
        row = i * rows_per_input
        images = [first.observation[i], first.clean[i], *(p.samples[i, 0] for p in panels)]
        for j, image in enumerate(images):
            data, style = _image(image)
            axes[row, j].imshow(data, interpolation="nearest", **style)
        if stochastic:
            axes[row + 1, 1].text(0.5, 0.5, "std\nacross K", ha="center", va="center", fontsize=7)
            for j, p in enumerate(panels):
                if p.samples.shape[1] < 2:  # one sample: its spread is unmeasured, not zero
                    axes[row + 1, 2 + j].text(0.5, 0.5, "K = 1", ha="center", va="center", fontsize=7)
                else:
                    axes[row + 1, 2 + j].imshow(p.std[i], cmap="magma", vmin=0, vmax=scale, interpolation="nearest")
    for j, title in enumerate(["observation", "clean", *(p.label for p in panels)]):
        axes[0, j].set_title(title, fontsize=7)


def draw_strip(panels: list[PanelSamples], path: Path, num_images: int = 4, per_band: int = 8) -> Path | None:
    """Write the strip of `panels` (in column order) to `path`, wrapped into bands of at most `per_band` jobs
    (each band repeats the observation and clean columns); None when no job saved panel samples."""
    if not panels:
        return None
    panels = comparable(panels)
    n = min(num_images, *(len(p.clean) for p in panels))
    stochastic = any(p.samples.shape[1] > 1 and p.std.max() > 0 for p in panels)
    scale = max(float(p.std[:n].max()) for p in panels) or 1.0
    bands = [panels[i : i + per_band] for i in range(0, len(panels), per_band)]
    rows_per_band, cols = n * (1 + stochastic), 2 + max(len(b) for b in bands)
    rows = len(bands) * rows_per_band
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.35 * len(bands) + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for b, band in enumerate(bands):
        draw_band(axes[b * rows_per_band : (b + 1) * rows_per_band], band, n, stochastic, scale)
    caption = "first sample of each job"
    if stochastic:
        caption += f"; std maps share one scale, 0 (black) to {scale:.3g}"
    fig.suptitle(caption, fontsize=7, y=0.995, va="top")
    fig.subplots_adjust(
        wspace=0.05,
        hspace=0.3 if len(bands) > 1 else 0.08,
        left=0.01,
        right=0.99,
        bottom=0.01,
        top=1 - 0.5 / fig.get_figheight(),
    )
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
