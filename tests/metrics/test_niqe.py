"""NIQE against deepinv's independent implementation of the MATLAB release (same images, same pristine model), the
pristine model file formats, and NIQE as a measure of the engine."""

import warnings

import numpy as np
import pytest
import skimage.color
import skimage.data
import torch
from deepinv.loss.metric import NIQE as DeepinvNIQE
from deepinv.physics.functional import imresize_matlab

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.engine import MeasurementEngine
from tradeoffs.metrics.functional.niqe import halve, niqe_features, niqe_scores, pristine_model, to_grey_255
from tradeoffs.metrics.niqe import NIQE

PATCH = 48


def photographs() -> list[torch.Tensor]:
    """Four grey photographs of scikit-image, 192×288, levels in [0, 255]."""
    images = [
        skimage.data.camera(),
        skimage.color.rgb2gray(skimage.data.astronaut()) * 255,
        skimage.data.moon(),
        skimage.data.coins(),
    ]
    return [torch.from_numpy(np.asarray(i, dtype=np.float64)[:192, :288]).round()[None] for i in images]


def deepinv_niqe() -> DeepinvNIQE:
    return DeepinvNIQE(weights_path=None, patch_size=PATCH, dtype=torch.float64, round_tensor=True)


def test_halving_is_matlab_imresize():
    image = 255 * torch.rand(2, 1, 40, 58, generator=generator_for(1), dtype=torch.float64)
    expected = imresize_matlab(image, scale=0.5, kernel="cubic", antialiasing=True, padding_type="reflect")
    torch.testing.assert_close(halve(image), expected, rtol=0, atol=1e-10)


def test_pristine_model_and_scores_equal_deepinvs():
    """The model fitted on the same pristine photographs agrees to 1e-3 (deepinv fits in float32); with the same
    model the scores of noisy and blurred versions agree to 1e-6 (relative)."""
    clean = photographs()
    reference = deepinv_niqe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean_ref, cov_ref = reference.create_weights([{"x": c} for c in clean])
    features, sharpness = zip(*(niqe_features(c[None], PATCH) for c in clean), strict=True)
    mean, covariance = pristine_model(torch.cat(features), torch.cat(sharpness))
    torch.testing.assert_close(mean, mean_ref, rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(covariance, cov_ref, rtol=1e-3, atol=1e-3 * cov_ref.abs().max().item())
    g = generator_for(2)
    noisy = torch.stack(
        [(c + 20 * torch.randn(c.shape, generator=g, dtype=torch.float64)).clamp(0, 255) for c in clean]
    )
    blurred = torch.nn.functional.avg_pool2d(torch.stack(clean), 3, stride=1, padding=1, count_include_pad=False)
    reference.mu_p, reference.cov_p = mean_ref, cov_ref
    for distorted in (noisy.round(), blurred.round()):
        ours = niqe_scores(niqe_features(distorted, PATCH)[0], mean_ref, cov_ref)
        torch.testing.assert_close(ours, reference.metric(distorted).double(), rtol=1e-6, atol=0)
    clean_scores = niqe_scores(niqe_features(torch.stack(clean), PATCH)[0], mean_ref, cov_ref)
    assert (niqe_scores(niqe_features(noisy.round(), PATCH)[0], mean_ref, cov_ref) > clean_scores).all()


def test_a_pristine_model_file_is_read_in_basicsrs_and_deepinvs_formats(tmp_path):
    mean, covariance = torch.arange(36.0, dtype=torch.float64), torch.eye(36, dtype=torch.float64)
    np.savez(tmp_path / "niqe_pris_params.npz", mu_pris_param=mean[None].numpy(), cov_pris_param=covariance.numpy())
    torch.save({"mu": mean, "cov": covariance}, tmp_path / "niqe_weights.pt")
    for name in ("niqe_pris_params.npz", "niqe_weights.pt"):
        loaded = NIQE(params=str(tmp_path / name)).model
        assert torch.equal(loaded[0], mean) and torch.equal(loaded[1], covariance)
    missing = tmp_path / "nowhere" / "niqe_pris_params.npz"
    with pytest.raises(ConfigError, match=rf"metrics.measures.niqe.params={missing}: no such file .*BasicSR's wheel"):
        NIQE(params=str(missing))
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ConfigError, match="other.npz holds no NIQE model"):
        NIQE(params=str(tmp_path / "other.npz"))


def test_the_measure_fits_on_the_reference_images_and_ranks_noise_above_the_floor():
    """In the engine: the model from the reference set B, restorations scored on their first sample; noisier
    restorations score higher than the clean images' own NIQE (the floor)."""
    photos = torch.cat([p[:, :96, : 96 * 3] for p in photographs()]) / 255  # four 96×288 grey crops
    crops = photos.unfold(2, 96, 96).permute(0, 2, 1, 3).reshape(-1, 1, 96, 96)  # twelve 96×96
    x, reference = crops[:6], crops[6:]
    engine = MeasurementEngine({"niqe": NIQE(patch_size=32)}, num_images=6, num_samples=1, batch_size=4)
    engine.prepare(1, 96, 96)
    values = {}
    for sigma in (0.02, 0.1):
        noisy = (x + sigma * torch.randn(x.shape, generator=generator_for(3), dtype=x.dtype)).clamp(0, 1)
        batches = [(x[s : s + 4], None, x[s : s + 4], noisy[s : s + 4, None], {}) for s in (0, 4)]
        values[sigma] = engine.run(batches, x, reference).values
    floor = values[0.02]["val/perception/niqe_floor"]
    assert floor < values[0.02]["val/perception/niqe"] < values[0.1]["val/perception/niqe"]
    features, sharpness = niqe_features(to_grey_255(reference), 32)
    mean, covariance = pristine_model(features, sharpness)
    expected = niqe_scores(niqe_features(to_grey_255(x), 32)[0], mean, covariance).mean().item()
    assert floor == pytest.approx(expected, rel=1e-12)


def test_small_images_skip_niqe_with_the_reason():
    engine = MeasurementEngine({"niqe": NIQE()}, num_images=2, num_samples=1)
    with pytest.warns(UserWarning, match=r"niqe skipped: NIQE needs two patches of .*patch_size=96 px .* 8x8"):
        engine.prepare(1, 8, 8)
    with pytest.raises(ConfigError, match="metrics.measures.niqe.patch_size=7"):
        NIQE(patch_size=7)
