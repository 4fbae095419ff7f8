"""The curve tool on synthetic sweep directories."""

import csv
import json
import math

import numpy as np
import pytest
import yaml

from tests import wandb_records
from tradeoffs.curve import main, make_curves
from tradeoffs.curves.plot import spans_decades
from tradeoffs.curves.table import pareto_front
from tradeoffs.curves.theory_overlay import overlay_for


def test_pareto_front():
    xs = [1.0, 2.0, 3.0, 2.5, 1.0, math.nan]
    ys = [3.0, 2.0, 1.0, 2.5, 4.0, 0.0]
    # (2.5, 2.5) is dominated by (2, 2); (1, 4) by (1, 3); NaN is never admissible
    assert pareto_front(xs, ys) == [True, True, True, False, False, False]
    assert pareto_front([1.0, 1.0], [1.0, 1.0]) == [True, True]  # equal points do not dominate each other


def make_job(sweep, name, overrides, metrics=None, failure=None, config=None, higher_is_better=()):
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if config is not None:
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if metrics is not None:
        lam = float(overrides[0].split("=")[1])
        record = {"adv_weight": lam, "metrics": metrics, "higher_is_better": list(higher_is_better)}
        (job / "results.json").write_text(json.dumps(record))
    if failure is not None:
        (job / "failures.jsonl").write_text(json.dumps({"type": "ValueError", "message": failure}) + "\n")


def metrics(fd, mse, renyi, pooled):
    return {
        "val/perception/fd": fd,
        "val/distortion/mse": mse,
        "val/distortion/mse_subset": mse,
        "val/perception/renyi": renyi,
        "val/uncertainty/pooled": pooled,
        "val/uncertainty/mse": mse * 1.01,
    }


@pytest.fixture
def sweep(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(
        yaml.safe_dump(
            {
                "hydra": {
                    "sweeper": {"params": {"model.adv_weight": "0,0.01,0.1,1,10"}},
                    "overrides": {"task": ["experiment=smoke"]},
                }
            }
        )
    )
    make_job(sweep, "a", ["model.adv_weight=0", "experiment=smoke"], metrics(0.9, 0.010, 5.0, 0.004))
    make_job(sweep, "b", ["model.adv_weight=0.01", "experiment=smoke"], metrics(0.5, 0.012, 3.0, 0.005))
    make_job(sweep, "c", ["model.adv_weight=0.1", "experiment=smoke"], metrics(0.6, 0.013, 2.0, 0.006))  # dominated
    make_job(sweep, "d", ["model.adv_weight=1", "experiment=smoke"], failure="boom")
    return sweep


def test_curves_from_a_sweep(sweep, tmp_path):
    out = tmp_path / "curves"
    result = make_curves(sweep, out, "val/perception/fd", "val/distortion/mse", wandb_mode="disabled")
    with open(out / "tradeoff.csv", newline="") as f:
        rows = {r["job"]: r for r in csv.DictReader(f)}
    statuses = {name: r["status"] for name, r in rows.items()}
    assert statuses == {
        "a": "finished",
        "b": "finished",
        "c": "finished",
        "d": "failed",
        "model.adv_weight=10,experiment=smoke": "missing",
    }
    admissible = {n for n, r in rows.items() if r.get("admissible_perception_distortion") == "True"}
    assert admissible == {"a", "b"}
    assert rows["d"]["error"] == "ValueError: boom"
    assert float(rows["b"]["val/perception/w2"]) == pytest.approx(math.sqrt(0.5))
    for plane in ("perception_distortion", "uncertainty_perception", "uncertainty_distortion"):
        assert (out / f"{plane}.png").stat().st_size > 0 and (out / f"{plane}.svg").is_file()
    assert "3 finished, 0 unfinished, 1 failed, 1 missing" in result["summary"]
    assert "failed:     d: ValueError: boom" in result["summary"]
    # λ = 0, 0.01, 0.1 against fd 0.9, 0.5, 0.6 and mse 0.010, 0.012, 0.013
    assert result["correlations"][sweep.name]["val/perception/fd"] == pytest.approx(-0.5)
    assert result["correlations"][sweep.name]["val/distortion/mse"] == pytest.approx(1.0)
    assert f"{sweep.name}: Spearman ρ(λ, val/distortion/mse) = +1.00" in result["summary"]
    assert rows["b"]["label"] == "λ=0.01" and rows["b"]["swept_key"] == "model.adv_weight"


def test_a_missing_key_names_the_logged_ones(sweep, capsys):
    assert main([str(sweep), "--x", "val/perception/lpips", "--wandb", "disabled"]) == 2
    err = capsys.readouterr()
    assert "no finished job logged 'val/perception/lpips'; logged keys: val/distortion/mse" in err.err + err.out
    assert main([str(sweep / "nope"), "--wandb", "disabled"]) == 2


def test_fronts_follow_the_direction_the_run_record_declares(tmp_path):
    """recall is higher-is-better: (recall 0.9, MSE 0.010) dominates (0.5, 0.012), which a lower-is-better reading
    of recall would call admissible."""
    sweep, maximized = tmp_path / "sweep", ["val/perception/recall"]
    for name, lam, recall, mse in (("a", 0, 0.9, 0.010), ("b", 0.1, 0.5, 0.012), ("c", 1, 0.95, 0.02)):
        values = {"val/perception/recall": recall, "val/distortion/mse_subset": mse}
        make_job(sweep, name, [f"model.adv_weight={lam}"], values, higher_is_better=maximized)
    result = make_curves(sweep, sweep, "val/perception/recall", "val/distortion/mse_subset", wandb_mode="disabled")
    admissible = {r["job"]: r["admissible_perception_distortion"] for r in result["rows"]}
    assert admissible == {"a": True, "b": False, "c": True}


def test_a_directory_without_runs_is_refused(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--wandb", "disabled"]) == 2
    assert f"{tmp_path / 'empty'} holds no runs" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "tradeoff.csv").exists()


def test_gaussian_sweeps_get_the_theory(tmp_path):
    config = {
        "seed": 0,
        "data": {
            "source": {
                "_target_": "tradeoffs.data.gaussian.GaussianImages",
                "crop_size": 2,
                "channels": 1,
                "std": 1.0,
                "mean": 0.0,
                "correlation_length": 0.0,
            }
        },
        "degradation": {"_target_": "tradeoffs.data.degradations.GaussianNoise", "sigma": 1.0},
    }
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    make_job(sweep, "a", ["model.adv_weight=0"], metrics(0.0, 0.5, 0.0, 0.5), config=config)
    overlay = overlay_for(sweep / "a")
    # four independent copies of O1 (σ² = 1): D* = 0.5 per pixel, P* = 2(1 − 1/√2) over d = 4, N(X|Y) = 0.5
    assert overlay.mmse == pytest.approx(0.5) and overlay.theory.inherent_uncertainty == pytest.approx(0.5)
    assert overlay.distortion(0.0) == pytest.approx(2 - math.sqrt(2))
    p_star = overlay.theory.perfect_perception_distance
    assert overlay.excess_over_bound(p_star, 0.5) == pytest.approx(0.0, abs=1e-9)
    assert overlay.excess_over_bound(0.0, 2 - math.sqrt(2)) == pytest.approx(0.0, abs=1e-9)
    # the job sits at P = 0 with the MMSE: below the bound D(0) by a whole bound height
    result = make_curves(sweep, sweep, "val/perception/w2", "val/distortion/mse", wandb_mode="disabled")
    assert result["rows"][0]["excess_over_bound"] == pytest.approx(-1.0)
    # U1 = 0.5 at Rényi-½ perception 0, where U(0) = η(0)·N(X|Y) = 2 · 0.5
    assert result["rows"][0]["uncertainty_over_bound"] == pytest.approx(0.5)


def test_an_eta_sweep_is_drawn_beside_the_lambda_sweep(sweep, tmp_path):
    """Evaluation sweeps (no multirun params needed) join the λ sweep: one table, one Pareto front over both."""
    eta = tmp_path / "eta"
    for name, value, fd, mse in (("e0", "0", 0.7, 0.0105), ("e5", "0.5", 0.4, 0.0108), ("e1", "1", 0.3, 0.014)):
        make_job(eta, name, [f"model.sampler.eta={value}", "ckpt_path=/runs/a/last.ckpt"], metrics(fd, mse, 1.0, 0.01))
    out = tmp_path / "curves"
    result = make_curves([sweep, eta], out, "val/perception/fd", "val/distortion/mse", wandb_mode="disabled")
    rows = {r["job"]: r for r in result["rows"]}
    assert rows["e5"]["sweep"] == "eta" and rows["e5"]["label"] == "η=0.5" and rows["e5"]["swept"] == 0.5
    admissible = {n for n, r in rows.items() if r.get("admissible_perception_distortion")}
    assert admissible == {"a", "e0", "e5", "e1"}  # (0.5, 0.012) is dominated by η = 0.5's (0.4, 0.0108)
    assert result["correlations"]["eta"]["val/perception/fd"] == pytest.approx(-1.0)
    assert "eta: Spearman ρ(η, val/distortion/mse) = +1.00" in result["summary"]
    assert (out / "perception_distortion.png").stat().st_size > 0
    assert main([str(sweep), str(eta), "--out", str(tmp_path / "cli"), "--wandb", "disabled"]) == 0


def test_axes_spanning_decades_are_drawn_on_a_log_scale():
    assert spans_decades(np.array([0.003, 0.0035, 0.2]))  # a λ sweep beside a random clean draw
    assert not spans_decades(np.array([0.003, 0.0035, 0.02]))
    assert not spans_decades(np.array([0.0, 0.003, 0.2]))  # zero or negative values (e.g. KID) stay linear
    assert not spans_decades(np.array([0.5]))


def nonstandard(constant: str):
    raise ValueError(f"{constant} is not standard JSON")


def test_the_curve_run_joins_the_sweep_s_group_with_a_clean_table_and_native_plots(sweep, tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        record = json.loads((sweep / name / "results.json").read_text())
        record |= {"wandb_group": "smoke_sweepdir", "wandb_run_id": f"id{name}", "seed": seed}
        record["metrics"]["val/distortion/psnr"] = "inf"  # a perfect restorer's PSNR, stored as a string
        (sweep / name / "results.json").write_text(json.dumps(record))
    make_curves(sweep, sweep, "val/perception/fd", "val/distortion/mse", wandb_mode="offline")
    (run_file,) = (sweep / "wandb").glob("offline-run-*/*.wandb")
    records = list(wandb_records.records(run_file))
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.run_group == "smoke_sweepdir" and run.job_type == "curve"
    summary = wandb_records.summary(run_file)
    assert summary["tradeoff/_type"] == "table-file"  # W&B-native: the table and one scatter per plane
    assert {f"planes/{p}_table/_type" for p in ("perception_distortion", "uncertainty_perception")} <= set(summary)
    (table_file,) = (sweep / "wandb").glob("offline-run-*/files/media/table/tradeoff_*.table.json")
    table = json.loads(table_file.read_text(), parse_constant=nonstandard)  # no NaN or Infinity
    columns = table["columns"]
    rows = {row[columns.index("job")]: dict(zip(columns, row, strict=True)) for row in table["data"]}
    assert rows["a"]["run_id"] == "ida" and rows["b"]["seed"] == 1 and rows["b"]["label"] == "λ=0.01"
    assert rows["a"]["val/distortion/psnr"] is None and rows["d"]["val/perception/fd"] is None


@pytest.mark.parametrize("scales", [("log", "linear"), ("linear", "log"), ("log", "log"), ("linear", "linear")])
def test_the_diagonal_is_y_equals_x_across_the_points_on_any_axes(scales):
    import matplotlib.pyplot as plt

    from tradeoffs.curves.plot import draw_diagonal

    fig, ax = plt.subplots()
    ax.set_xscale(scales[0])
    ax.set_yscale(scales[1])
    draw_diagonal(ax, np.array([0.001, 0.01, 0.2, 0.5]), "U = MSE")
    (line,) = ax.get_lines()
    x, y = line.get_data()
    assert np.array_equal(x, y) and x.max() == pytest.approx(0.525)
    if "log" in scales:  # starts below the smallest point, not at 0 (which a log axis puts at -inf: a vertical wall)
        assert 0 < x.min() <= 0.0005
    plt.close(fig)


def test_runs_measured_on_other_images_are_drawn_without_a_front_and_named(sweep, tmp_path, caplog):
    other = tmp_path / "other"
    other.mkdir()
    floors = {"val/perception/fd_floor": 0.02}
    make_job(other, "e", ["model.adv_weight=0.5"], metrics(0.1, 0.005, 1.0, 0.003) | floors)  # dominates a, b, c
    for name in ("a", "b", "c"):
        record = json.loads((sweep / name / "results.json").read_text())
        record["metrics"]["val/perception/fd_floor"] = 0.01
        (sweep / name / "results.json").write_text(json.dumps(record))
    result = make_curves(
        [sweep, other], tmp_path / "mixed", "val/perception/fd", "val/distortion/mse", wandb_mode="disabled"
    )
    assert "measured on 2 different sets of images or metric settings" in caplog.text and "λ=0.5" in caplog.text
    assert not any(r.get("admissible_perception_distortion") for r in result["rows"])
    across = make_curves(
        [sweep, other], tmp_path / "across", "val/perception/fd", "val/distortion/mse", "disabled", front_across=True
    )
    assert [r["label"] for r in across["rows"] if r.get("admissible_perception_distortion")] == ["λ=0.5"]


def test_a_rank_correlation_needs_points_that_differ(tmp_path):
    sweep = tmp_path / "avg"
    sweep.mkdir()
    for k, noise in ((1, 0.0), (2, 1e-9), (4, -1e-9)):  # a deterministic restorer averaged: equal up to round-off
        make_job(sweep, f"k={k}", [f"model.adv_weight={k}"], metrics(0.5 + noise, 0.01 + noise, 1.0, 0.004 + k))
    result = make_curves(sweep, sweep, "val/perception/fd", "val/distortion/mse", wandb_mode="disabled")
    assert set(result["correlations"][sweep.name]) == {"val/uncertainty/pooled"}


def test_a_single_run_directory_is_plotted(tmp_path):
    run = tmp_path / "run"
    make_job(tmp_path, "run", ["model.adv_weight=0.1"], metrics(0.5, 0.01, 1.0, 0.004))
    assert main([str(run), "--wandb", "disabled"]) == 0
    assert (run / "perception_distortion.png").is_file() and (run / "tradeoff.csv").is_file()


def test_each_family_is_one_series_joined_in_the_order_of_its_swept_value():
    import matplotlib.pyplot as plt

    from tradeoffs.curves.plot import draw_families

    points = [  # a steps sweep listed out of order, and references (no numeric swept value)
        {"sweep": "steps", "swept": 4.0, "swept_key": "model.sampler.steps"},
        {"sweep": "steps", "swept": 1.0, "swept_key": "model.sampler.steps"},
        {"sweep": "steps", "swept": 2.0, "swept_key": "model.sampler.steps"},
        {"sweep": "references", "swept": math.nan, "swept_key": "traversal.estimator"},
        {"sweep": "references", "swept": math.nan, "swept_key": "traversal.estimator"},
    ]
    xs, ys = np.array([0.1, 0.4, 0.2, 0.01, 9.0]), np.array([0.9, 0.5, 0.7, 1.5, 1.0])
    fig, ax = plt.subplots()
    draw_families(ax, points, xs, ys, np.array([True, True, True, True, False]), front=True)
    (line,) = ax.get_lines()  # the steps series only: references are not an ordered family
    assert line.get_xdata().tolist() == [0.4, 0.2, 0.1] and line.get_ydata().tolist() == [0.5, 0.7, 0.9]
    labels = [c.get_label() for c in ax.collections]
    assert labels == ["steps", "references", "admissible (Pareto)"]
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections[:2]}) == 2  # a colour per family
    plt.close(fig)
