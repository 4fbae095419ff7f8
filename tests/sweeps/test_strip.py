"""The curve tool's strip of restorations and its label placement."""

import json

import matplotlib
import numpy as np
import pytest
import yaml
from PIL import Image

from tradeoffs.core.runs import PANEL_SAMPLES_FILE
from tradeoffs.curve import make_curves, strip_panels
from tradeoffs.curves.plot import place_labels
from tradeoffs.curves.strip import PanelSamples, comparable, draw_strip
from tradeoffs.sweeps.collect import collect

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CLEAN = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)


def save_panel(job, samples, clean=CLEAN):
    (job / "images").mkdir(parents=True, exist_ok=True)
    np.savez(job / PANEL_SAMPLES_FILE, epoch=3, observation=clean + 0.1, clean=clean, samples=samples)


def make_sweep(root, spreads, name="sweep"):
    """A λ sweep whose job λ has K = 3 samples clean + spread·(−1, 0, 1): per-pixel std = spread exactly."""
    sweep = root / name
    sweep.mkdir()
    for name, (lam, spread) in zip("abcdef", spreads.items(), strict=False):
        job = sweep / name  # directory names out of λ order
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"model.adv_weight={lam}"]))
        metrics = {"val/perception/fd": 1 / (1 + lam), "val/distortion/mse_subset": 0.01 * (1 + lam)}
        metrics |= {"val/perception/renyi": 1.0, "val/uncertainty/pooled": 0.005, "val/uncertainty/mse": 0.02}
        (job / "results.json").write_text(json.dumps({"adv_weight": lam, "metrics": metrics}))
        offsets = spread * np.array([-1.0, 0.0, 1.0], dtype=np.float32).reshape(1, 3, 1, 1, 1)
        save_panel(job, CLEAN[:, None] + offsets)
    return sweep


def test_the_strip_has_a_column_per_job_in_swept_order(tmp_path):
    sweep = make_sweep(tmp_path, {10: 0.2, 0: 0.0, 1: 0.1})
    jobs = collect(sweep)
    out = tmp_path / "out"
    result = make_curves(sweep, out, "val/perception/fd", "val/distortion/mse_subset", wandb_mode="disabled")
    panels = strip_panels(jobs, result["rows"])
    assert [p.label for p in panels] == ["λ=0", "λ=1", "λ=10"]
    assert [p.std.max() for p in panels] == pytest.approx([0.0, 0.1, 0.2], abs=1e-6)
    path = tmp_path / "out" / "strip.png"
    assert path in result["figures"]
    width, height = Image.open(path).size
    # observation, clean + 3 jobs; 4 inputs, each with a row of samples and a row of std maps
    assert (width, height) == (round(1.1 * 5 * 150), round((1.1 * 8 + 0.35 + 0.4) * 150))


def test_deterministic_jobs_get_no_std_row(tmp_path):
    panels = [PanelSamples(f"λ={i}", CLEAN + 0.1, CLEAN, np.repeat(CLEAN[:, None], 2, axis=1)) for i in range(3)]
    path = draw_strip(panels, tmp_path / "strip.png", num_images=2)
    assert Image.open(path).size == (round(1.1 * 5 * 150), round((1.1 * 2 + 0.35 + 0.4) * 150))
    assert draw_strip([], tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_a_job_with_one_sample_gets_no_std_map_in_a_stochastic_strip(tmp_path, monkeypatch):
    """A mean-of-k job measured with K = 1 beside stochastic jobs: its std cell says K = 1 instead of a black map."""
    drawn, written = [], []
    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", lambda ax, data, **kw: drawn.append(kw.get("cmap")))
    monkeypatch.setattr(matplotlib.axes.Axes, "text", lambda ax, x, y, s, **kw: written.append(s))
    spread = CLEAN[:, None] + 0.1 * np.array([-1.0, 1.0], dtype=np.float32).reshape(1, 2, 1, 1, 1)
    panels = [
        PanelSamples("steps=8", CLEAN + 0.1, CLEAN, spread),
        PanelSamples("k=4", CLEAN + 0.1, CLEAN, CLEAN[:, None]),
    ]
    draw_strip(panels, tmp_path / "strip.png", num_images=2)
    assert drawn.count("magma") == 2 and written.count("K = 1") == 2  # 2 inputs: one std map, one "K = 1" each


def test_a_long_strip_wraps_into_bands_of_eight_jobs(tmp_path):
    panels = [PanelSamples(f"k={i}", CLEAN + 0.1, CLEAN, np.repeat(CLEAN[:, None], 2, axis=1)) for i in range(20)]
    path = draw_strip(panels, tmp_path / "strip.png", num_images=2)
    # 3 bands (8 + 8 + 4 jobs), each with observation and clean: 10 columns, 3 × 2 rows
    width, height = Image.open(path).size
    assert width == round(1.1 * 10 * 150) and height == pytest.approx((1.1 * 6 + 3 * 0.35 + 0.4) * 150, abs=1)


def test_columns_of_several_sweeps_are_titled_by_their_sweep(tmp_path):
    first, second = make_sweep(tmp_path, {0: 0.0, 1: 0.1}, "interp"), make_sweep(tmp_path, {0: 0.0, 1: 0.1}, "ot")
    result = make_curves([first, second], tmp_path, "val/perception/fd", "val/distortion/mse_subset", "disabled")
    panels = strip_panels(collect(first) + collect(second), result["rows"])
    assert [p.label for p in panels] == ["interp\nλ=0", "interp\nλ=1", "ot\nλ=0", "ot\nλ=1"]


def test_jobs_showing_other_images_are_left_out(caplog):
    same = PanelSamples("λ=0", CLEAN, CLEAN, CLEAN[:, None])
    other = PanelSamples("λ=1 (seed 1)", CLEAN, CLEAN[::-1].copy(), CLEAN[:, None])
    assert [p.label for p in comparable([same, other, same])] == ["λ=0", "λ=0"]
    assert "λ=1 (seed 1) shows other validation images than λ=0: left out" in caplog.text


def test_labels_of_crowded_points_do_not_overlap():
    """Six points within 1 % of each other (a sweep saturating at the floor) get six readable labels."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    xs = np.array([0.0130, 0.0131, 0.0129, 0.0132, 0.0130, 0.05])
    ys = np.array([0.0400, 0.0401, 0.0402, 0.0399, 0.0403, 0.03])
    ax.scatter(xs, ys)
    texts = place_labels(ax, xs, ys, [f"λ={v}" for v in (0.1, 0.3, 1, 3, 10, 0)])
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    plt.close(fig)
