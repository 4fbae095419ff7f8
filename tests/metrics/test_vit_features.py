"""DINOv2 and CLIP feature spaces (timm): the plumbing with randomly initialised backbones of the same architectures
(shapes, preprocessing, weights files, the Hugging Face cache, the floor of identical sets), and the missing-weights
message. Pretrained weights are not needed."""

import pytest
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.seeding import generator_for
from tradeoffs.metrics.engine import MeasurementEngine
from tradeoffs.metrics.features import ViTFeatures
from tradeoffs.metrics.perception import FrechetRenyi

SMALL = {"dinov2": "vit_small_patch14_dinov2.lvd142m", "clip": "vit_base_patch32_clip_224.openai"}


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize(("space", "dim", "mean"), [("dinov2", 384, 0.485), ("clip", 512, 0.48145466)])
def test_shapes_and_preprocessing(space, dim, mean):
    """8-bit levels, grey replicated to RGB, 224 px, the model's own normalisation; float64 features of its size."""
    features = ViTFeatures(space, SMALL[space], pretrained=False)
    assert features.dim == dim and features.mean[0, 0, 0, 0].item() == pytest.approx(mean)
    grey = torch.randint(0, 256, (3, 1, 20, 20), generator=generator_for(1)) / 255  # 8-bit levels
    inputs = features.preprocess(grey)
    assert inputs.shape == (3, 3, 224, 224)
    torch.testing.assert_close(inputs, features.preprocess(grey.expand(-1, 3, -1, -1)))
    assert torch.equal(inputs, features.preprocess(grey + 0.4 / 255))  # rounds to the same 8-bit image
    constant = features.preprocess(torch.full((1, 3, 8, 8), 0.6))
    expected = (round(0.6 * 255) / 255 - features.mean) / features.std
    torch.testing.assert_close(constant, expected.expand_as(constant), rtol=0, atol=1e-5)
    out = features(grey)
    assert out.shape == (3, dim) and out.dtype == torch.float64 and torch.isfinite(out).all()


def test_a_weights_file_is_loaded_and_identical_sets_have_zero_frechet_distance(tmp_path, empty_hub_cache):
    """metrics.features=dinov2 with a named weights file (a random ViT-S/14 saved as safetensors): the engine's
    backbone holds those weights, and the Fréchet distance of a set to itself is 0 (the floor of identical sets)."""
    source = ViTFeatures("dinov2", SMALL["dinov2"], pretrained=False)
    weights = tmp_path / "vit_s14.safetensors"
    save_file({k: v.contiguous() for k, v in source.net.state_dict().items()}, str(weights))
    engine = MeasurementEngine(
        {"gaussian_fit": FrechetRenyi()},
        num_images=40,
        num_samples=1,
        features="dinov2",
        feature_model=SMALL["dinov2"],
        feature_weights=str(weights),
    )
    engine.prepare(1, 16, 16)
    loaded = engine.features.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.net.state_dict().items())
    x = torch.rand(40, 1, 16, 16, generator=generator_for(2))
    same = engine.run([(x, None, x, x[:, None], {})], x, x).values
    assert same["val/perception/fd"] == pytest.approx(0, abs=1e-6)  # float64 sqrtm of 384×384 covariances
    assert same["val/perception/fd_floor"] == pytest.approx(0, abs=1e-6)
    assert engine.features(x).std(0).min() > 0  # distinct images, distinct features (no constant map)


def test_the_hugging_face_cache_is_read_and_a_missing_file_is_named(empty_hub_cache):
    repo = empty_hub_cache / "models--timm--vit_small_patch14_dinov2.lvd142m"
    with pytest.raises(ConfigError) as missing:
        ViTFeatures("dinov2", SMALL["dinov2"])
    message = str(missing.value)
    assert "\n" not in message and "metrics.features=dinov2: the weights of vit_small_patch14_dinov2.lvd142m" in message
    assert "huggingface-cli download timm/vit_small_patch14_dinov2.lvd142m" in message
    assert "metrics.feature_weights=FILE" in message and "metrics.feature_download=true" in message
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    source = ViTFeatures("dinov2", SMALL["dinov2"], pretrained=False)
    save_file(
        {k: v.contiguous() for k, v in source.net.state_dict().items()},
        str(repo / "snapshots" / "abc123" / "model.safetensors"),
    )
    cached = ViTFeatures("dinov2", SMALL["dinov2"])  # found in the cache: no download
    assert torch.equal(cached.net.cls_token, source.net.cls_token)
    with pytest.raises(ConfigError, match="metrics.feature_weights=/nowhere.safetensors: no such file"):
        ViTFeatures("dinov2", SMALL["dinov2"], weights="/nowhere.safetensors")
