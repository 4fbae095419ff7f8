"""Tradeoff planes as PNG + SVG: finished jobs (one coloured, connected series per sweep, labelled by their swept
settings), the admissible (Pareto) front over all of them, theory overlays."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from adjustText import adjust_text  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from tradeoffs.curves.table import SYMBOLS, pareto_front  # noqa: E402

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]  # one per sweep drawn on a plane


@dataclass
class Plane:
    name: str
    x: str
    y: str
    title: str
    curves: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = field(default_factory=list)  # label, y(x)
    levels: list[tuple[str, float]] = field(default_factory=list)  # horizontal reference lines
    diagonal: str | None = None  # label of the line y = x, if drawn
    maximize: tuple[bool, bool] = (False, False)  # whether higher is better on x, on y (Pareto front direction)
    front: bool = True  # draw the Pareto front (off when the points were measured on different data)


def draw_diagonal(ax, values: np.ndarray, label: str) -> None:
    """The line y = x across the points' range, sampled densely so that it is drawn right on any mix of linear and
    logarithmic axes (a log axis has no 0 to start from)."""
    positive = values[values > 0]
    low = positive.min() / 2 if "log" in (ax.get_xscale(), ax.get_yscale()) and positive.size else 0.0
    high = values.max(initial=0.0) * 1.05
    line = np.geomspace(low, high, 200) if low > 0 else np.linspace(low, high, 200)
    ax.plot(line, line, color="0.3", lw=1, label=label)


def finite_points(rows: list[dict], plane: Plane) -> list[dict]:
    return [
        r
        for r in rows
        if r["status"] == "finished"
        and not math.isnan(r.get(plane.x, math.nan))
        and not math.isnan(r.get(plane.y, math.nan))
    ]


def spans_decades(values: np.ndarray) -> bool:
    """Log scale for an axis whose positive values span more than a factor of 10 (e.g. reference estimators
    such as a random clean draw beside a λ sweep), so the sweep's own spread stays visible."""
    return len(values) > 1 and bool((values > 0).all()) and values.max() > 10 * values.min()


def draw_families(
    ax: Axes, points: list[dict], xs: np.ndarray, ys: np.ndarray, admissible: np.ndarray, front: bool
) -> None:
    """Each sweep (a family: λ, steps, η, k, references) in its own colour and marker, its points joined in the
    order of its swept value when it has one numeric swept key; admissible (Pareto) points ringed in red."""
    sweeps = np.array([r["sweep"] for r in points])
    swept = np.array([r.get("swept", math.nan) for r in points], dtype=float)
    colors = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 3]  # red marks the admissible points
    for i, sweep in enumerate(dict.fromkeys(sweeps)):
        mine = sweeps == sweep
        color, marker = colors[i % len(colors)], MARKERS[i % len(MARKERS)]
        if mine.sum() > 1 and not np.isnan(swept[mine]).any():
            order = np.argsort(swept[mine], kind="stable")
            ax.plot(xs[mine][order], ys[mine][order], "-", color=color, lw=1, alpha=0.7, zorder=2)
        name = sweep or "restorers"
        key = points[int(np.argmax(mine))].get("swept_key", "")
        symbol = SYMBOLS.get(key, key)
        label = name if symbol in ("", name) else f"{name} ({symbol})"
        ax.scatter(xs[mine], ys[mine], color=color, marker=marker, s=36, zorder=3, label=label)
    if front and admissible.any():
        ax.scatter(
            xs[admissible],
            ys[admissible],
            facecolors="none",
            edgecolors="tab:red",
            s=110,
            lw=1.2,
            zorder=3,
            label="admissible (Pareto)",
        )


def place_labels(ax: Axes, xs: np.ndarray, ys: np.ndarray, labels: list[str]) -> list[Text]:
    """One label per point, pushed apart until no two overlap each other or a point (adjustText), with a grey
    leader line from a moved label to its point. Call after the axis scales are set."""
    texts = [ax.text(x, y, label, fontsize=8, zorder=4) for x, y, label in zip(xs, ys, labels, strict=True)]
    if len(texts) > 1:
        adjust_text(
            texts,
            x=xs,
            y=ys,
            ax=ax,
            expand=(1.3, 1.6),  # room around each label: dense families (steps beside k) stay readable
            force_text=(0.4, 0.8),
            force_explode=(0.3, 1.0),
            arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6},
        )
    return texts


def plot_plane(
    rows: list[dict], plane: Plane, out_dir: Path, trajectories: dict[str, list[dict]] | None = None
) -> list[Path]:
    points = finite_points(rows, plane)
    xs, ys = np.array([r[plane.x] for r in points]), np.array([r[plane.y] for r in points])
    admissible = np.array(pareto_front(list(xs), list(ys), plane.maximize), dtype=bool) & plane.front
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    for name, epochs in (trajectories or {}).items():
        tx = [float(e[plane.x]) for e in epochs if e.get(plane.x) and e.get(plane.y)]
        ty = [float(e[plane.y]) for e in epochs if e.get(plane.x) and e.get(plane.y)]
        ax.plot(
            tx,
            ty,
            "-",
            color="0.8",
            lw=0.8,
            zorder=1,
            label="per-epoch path" if name == next(iter(trajectories)) else None,
        )
    draw_families(ax, points, xs, ys, admissible, plane.front)
    order = np.argsort(xs[admissible])
    ax.plot(xs[admissible][order], ys[admissible][order], "--", color="tab:red", lw=1, zorder=2)
    span = np.linspace(0, max(xs.max(initial=0) * 1.1, 1e-12), 200)
    for label, curve in plane.curves:
        ax.plot(span, curve(span), color="k", lw=1.2, label=label, zorder=2)
    for (label, level), style in zip(plane.levels, ("-.", ":", "--"), strict=False):
        if level <= 1.25 * ys.max():  # a level far above every point would only squash them
            ax.axhline(level, color="0.4", ls=style, lw=1, label=label)
    floors = [r[f"{plane.x}_floor"] for r in points if not math.isnan(r.get(f"{plane.x}_floor", math.nan))]
    if floors:
        ax.axvline(float(np.median(floors)), color="tab:green", ls=":", lw=1.2, label="real-vs-real floor")
    ax.set(xlabel=plane.x, ylabel=plane.y, title=plane.title)
    if not plane.curves:  # a theory curve is read on linear axes
        if spans_decades(ys):
            ax.set_yscale("log")
        if spans_decades(xs):
            ax.set_xscale("log")
    if plane.diagonal:
        draw_diagonal(ax, np.concatenate([xs, ys]), plane.diagonal)
    place_labels(ax, xs, ys, [r["label"] for r in points])
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths = [out_dir / f"{plane.name}.png", out_dir / f"{plane.name}.svg"]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
