"""evaluate_outputs on PNG folders this test writes: known restorations, K samples of known spread, the run record
the curve tool reads, and every bad input named in one line."""

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from tradeoffs.assemble import compose_config
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.curve import make_curves
from tradeoffs.data.images import to_tensor
from tradeoffs.evaluate import evaluate
from tradeoffs.evaluate_outputs import evaluate_outputs
from tradeoffs.train import train

SIZE, N = 32, 12


def save(path, image: torch.Tensor) -> None:
    """(C, H, W) in [0, 1] -> 8-bit PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


def load(path) -> torch.Tensor:
    return to_tensor(np.asarray(Image.open(path)))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """clean/ (12 grey 32×32 crops of a photo), identity/, noisy/ (σ = 0.1), blur/, and samples/<id>/<k>.png
    (K = 3 noisy copies)."""
    root = tmp_path_factory.mktemp("outputs")
    photo = to_tensor(skimage.data.camera())
    g = generator_for(5)
    for i in range(N):
        x = photo[:, 16 * i : 16 * i + SIZE, 40 * i : 40 * i + SIZE]
        save(root / "clean" / f"img{i:02d}.png", x)
        save(root / "identity" / f"img{i:02d}.png", x)
        save(root / "noisy" / f"img{i:02d}.png", x + 0.1 * torch.randn(x.shape, generator=g))
        save(
            root / "blur" / f"img{i:02d}.png",
            torch.nn.functional.avg_pool2d(x[None], 3, 1, 1, count_include_pad=False)[0],
        )
        for k in range(3):
            save(root / "samples" / f"img{i:02d}" / f"{k}.png", x + 0.05 * torch.randn(x.shape, generator=g))
    return root


def run(folders, tmp_path, *overrides):
    cfg = compose_config(
        "evaluate_outputs",
        [
            f"clean_root={folders / 'clean'}",
            "metrics.patch_size=4",
            "metrics.measures.kid_swd.kid_subsets=3",
            *overrides,
        ],
        tmp_path / "out",
    )
    return evaluate_outputs(cfg)


def test_known_restorations_are_measured_from_their_files(folders, tmp_path):
    methods = [f"+methods.{m}={folders / m}" for m in ("identity", "noisy", "blur", "samples")]
    done = run(folders, tmp_path, *methods)
    identity, noisy, samples = done["identity"].metrics, done["noisy"].metrics, done["samples"].metrics
    assert identity["val/distortion/mse_subset"] == 0 and identity["val/uncertainty/pooled"] == 0
    for key in ("fd", "kid", "swd", "precision", "recall"):  # a perfect restorer sits exactly on the floor
        assert identity[f"val/perception/{key}"] == pytest.approx(identity[f"val/perception/{key}_floor"], abs=1e-9)
    inputs = done["noisy"].extra["inputs"]
    assert len(inputs) == N // 2  # the other half is perception's reference set
    mse = np.mean(
        [(load(folders / "noisy" / f"{i}.png") - load(folders / "clean" / f"{i}.png")).square().mean() for i in inputs]
    )
    assert noisy["val/distortion/mse_subset"] == pytest.approx(mse, rel=1e-5)  # the 8-bit files, as written
    assert done["blur"].metrics["val/perception/fd"] > identity["val/perception/fd"]
    # K = 3 copies with σ = 0.05 noise: the K-sample keys appear; the mean per-pixel std across 3 normal draws is
    # σ·c4(3) = 0.886·σ (up to 8-bit rounding)
    assert "val/uncertainty/spread" in samples and "val/uncertainty/spread" not in noisy
    assert samples["val/uncertainty/pixel_std"] == pytest.approx(0.886 * 0.05, rel=0.1)
    assert done["samples"].extra["samples_per_input"] == 3


def test_methods_are_job_directories_the_curve_tool_labels_by_name(folders, tmp_path):
    first = run(folders, tmp_path, f"+methods.identity={folders / 'identity'}", f"+methods.noisy={folders / 'noisy'}")
    out = tmp_path / "out"
    result = make_curves(out, out, "val/perception/fd", "val/distortion/mse_subset", wandb_mode="disabled")
    assert {r["label"] for r in result["rows"]} == {"identity", "noisy"}
    assert (out / "noisy" / "images" / "val_epoch000.png").is_file()
    written = (out / "noisy" / "results.json").stat().st_mtime_ns
    again = run(folders, tmp_path, f"+methods.noisy={folders / 'noisy'}")  # a finished method is kept, not redone
    assert again["noisy"].metrics == first["noisy"].metrics
    assert (out / "noisy" / "results.json").stat().st_mtime_ns == written


def missing(root):
    return None


def corrupt(root):
    root.mkdir()
    (root / "img00.png").write_bytes(b"not a png")


def smaller(root):
    root.mkdir()
    save(root / "img00.png", torch.rand(1, 16, 16))


def coloured(root):
    root.mkdir()
    save(root / "img00.png", torch.rand(3, 32, 32))


def unmatched(root):
    root.mkdir()
    save(root / "other.png", torch.rand(1, 32, 32))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (missing, "methods.broken=.*broken: no such directory"),
        (corrupt, "methods.broken: cannot read .*img00.png"),
        (smaller, "img00.png is 16x16 with 1 channel\\(s\\), the clean image is 32x32 with 1"),
        (coloured, "img00.png is 32x32 with 3 channel\\(s\\), the clean image is 32x32 with 1"),
        (unmatched, "methods.broken=.*: no output for img"),
    ],
)
def test_bad_folders_are_named(folders, tmp_path, make, message):
    make(tmp_path / "broken")
    with pytest.raises(ConfigError, match=message):
        run(folders, tmp_path, f"+methods.broken={tmp_path / 'broken'}", "reference_root=" + str(folders / "clean"))


def test_empty_clean_folders_and_missing_methods_are_named(folders, tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = compose_config("evaluate_outputs", [f"clean_root={tmp_path / 'empty'}", "+methods.a=/x"], tmp_path / "o")
    with pytest.raises(ConfigError, match="clean_root=.*empty: no PNG/JPG/JPEG/BMP images in it"):
        evaluate_outputs(cfg)
    with pytest.raises(ConfigError, match="no methods: pass \\+methods.NAME=DIR"):
        run(folders, tmp_path)


@pytest.mark.slow
def test_exported_samples_reproduce_evaluate(train_config, tmp_path):
    """Round trip: evaluate ... export_samples=K writes the measured subset and its K samples; evaluate_outputs on
    those files gives evaluate's numbers up to the 8-bit rounding of the PNGs."""
    trained = train(train_config())  # outputs almost all in [0, 1], so 8-bit PNGs hold them up to rounding
    export = tmp_path / "export"
    overrides = [f"ckpt_path={trained.checkpoint}", "accelerator=cpu", "export_samples=2", f"export_dir={export}"]
    evaluated = evaluate(compose_config("evaluate", overrides, tmp_path / "eval")).metrics
    assert sorted(p.name for p in (export / "samples" / "00000").iterdir()) == ["0.png", "1.png"]
    cfg = compose_config(
        "evaluate_outputs",
        [
            f"clean_root={export / 'clean'}",
            f"reference_root={export / 'reference'}",
            f"observed_root={export / 'observed'}",
            f"+methods.gan={export / 'samples'}",
            "metrics.measures.kid_swd.kid_subsets=5",
            "metrics.measures.kid_swd.projections=32",
        ],
        tmp_path / "outputs",
    )
    reloaded = evaluate_outputs(cfg)["gan"].metrics
    # PNGs round to 1/255 and clip the ~1 % of this tiny GAN's pixels that leave [0, 1]
    for key in ("val/distortion/mse_subset", "val/uncertainty/mse"):
        assert reloaded[key] == pytest.approx(evaluated[key], rel=0.01), key
    assert reloaded["val/distortion/ssim_subset"] == pytest.approx(evaluated["val/distortion/ssim_subset"], abs=0.005)
    assert reloaded["val/perception/fd"] == pytest.approx(evaluated["val/perception/fd"], rel=0.05)
    assert reloaded["val/perception/fd_floor"] == pytest.approx(evaluated["val/perception/fd_floor"], rel=0.01)
    assert reloaded["val/distortion/psnr_subset"] == pytest.approx(evaluated["val/distortion/psnr_subset"], abs=0.05)
    with pytest.raises(ConfigError, match=f"export_dir={export} is not empty"):
        evaluate(compose_config("evaluate", overrides, tmp_path / "eval_again"))


@pytest.mark.slow
def test_exported_samples_are_the_measured_draws(train_config, tmp_path):
    """For a stochastic restorer the files hold exactly the K draws the metrics saw (clipped, rounded to 8 bits)."""
    trained = train(train_config("trainer.max_epochs=1", "model.generator.noise_channels=1", run="stochastic"))
    export = tmp_path / "export"
    overrides = [f"ckpt_path={trained.checkpoint}", "accelerator=cpu", "export_samples=2", f"export_dir={export}"]
    evaluate(compose_config("evaluate", overrides, tmp_path / "eval"))
    with np.load(tmp_path / "eval" / "images" / "panel_samples.npz") as panel:
        measured = np.clip(panel["samples"], 0, 1)  # (inputs, K, C, H, W) of the first batch
    for i in range(len(measured)):
        for k in range(2):
            written = load(export / "samples" / f"{i:05d}" / f"{k}.png").numpy()
            np.testing.assert_allclose(written, measured[i, k], atol=0.5 / 255 + 1e-6)
    assert not np.allclose(measured[:, 0], measured[:, 1])  # the two draws differ
