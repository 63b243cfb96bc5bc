"""1-D inputs (#17): every convolutional family builds on `(length,
channels)` with the same blocks, layer names and options, trains and
reloads; image weights are refused for 1-D models. Also the norm choice
(batch, layer, group) of every block."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import assert_trains_and_reloads

# One model per convolutional family (the zoo's others share their blocks).
FAMILIES = [
    "ResNet18",
    "ResNet50",
    "ResNet50V2",
    "ResNet20",
    "PreActResNet164",
    "PlainNet20",
    "HighwayNet20",
    "DenseNetBC100",
    "DenseNet121",
    "ResNeXt50_32x4d",
    "SEResNet50",
    "ResNet50D",
]


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("name", FAMILIES)
def test_every_conv_family_builds_1d_with_the_names_of_its_2d_model(name):
    # One block per stage: the blocks are what 1-D changes, not their count.
    shallow = {"depths": (1,) * len(kr.get_spec(name).stages)}
    one_d = kr.build(name, input_shape=(128, 2), classes=3, **shallow)
    two_d = kr.build(name, input_shape=(128, 128, 2), classes=3, **shallow)
    assert [layer.name for layer in one_d.layers] == [
        layer.name for layer in two_d.layers
    ]
    assert [k.replace("1D", "2D") for k in _kinds(one_d)] == _kinds(two_d)
    assert "Conv1D" in _kinds(one_d) and "Conv2D" not in _kinds(one_d)
    x = np.random.default_rng(0).random((2, 128, 2), dtype=np.float32)
    y = keras.ops.convert_to_numpy(one_d(x, training=False))
    assert y.shape == (2, 3) and np.isfinite(y).all()
    # A 1-D kernel has k, not k*k, weights per channel pair.
    for layer in one_d.layers:
        if isinstance(layer, keras.layers.Conv1D):
            twin = two_d.get_layer(layer.name).kernel.shape
            assert tuple(layer.kernel.shape) == (twin[0], *twin[2:])


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_resnet18_on_audio_length_inputs_trains_and_reloads(tmp_path):
    """The issue's example: ResNet18 on 1 s of 16 kHz audio, 35 classes."""
    model = kr.ResNet18(input_shape=(16000, 1), classes=35)
    assert model.output.shape == (None, 35)
    assert tuple(model.pyramid_outputs["P5"].shape) == (None, 500, 512)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 16000, 1)).astype(np.float32)
    assert_trains_and_reloads(model, x, rng.integers(0, 35, 4), tmp_path / "a.keras")


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.parametrize("options", [{"attention": "se"}, {"attention": "eca"}])
def test_block_options_work_in_1d(options, tmp_path):
    model = kr.build("ResNet20", input_shape=(64, 3), classes=2, **options)
    kind = options["attention"]  # each block carries the attention it names
    assert any(f"_{kind}" in layer.name for layer in model.layers), [
        layer.name for layer in model.layers
    ]
    rng = np.random.default_rng(1)
    x = rng.random((4, 64, 3), dtype=np.float32)
    assert_trains_and_reloads(model, x, rng.integers(0, 2, 4), tmp_path / "o.keras")


def test_memory_efficient_densenet_matches_the_plain_one_in_1d():
    plain = kr.build("DenseNetBC100", input_shape=(64, 3), classes=2)
    efficient = kr.build(
        "DenseNetBC100", input_shape=(64, 3), classes=2, memory_efficient=True
    )
    efficient.set_weights(plain.get_weights())
    x = np.random.default_rng(2).random((2, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(efficient(x, training=True)),
        keras.ops.convert_to_numpy(plain(x, training=True)),
        atol=1e-5,
    )


def test_image_weights_and_bad_1d_shapes_are_refused():
    with pytest.raises(ValueError, match=r"weights='imagenet'.*\(1000, 1\) is 1-D"):
        kr.ResNet50(weights="imagenet", input_shape=(1000, 1))
    with pytest.raises(ValueError, match=r"length must be at least 32.*\(16, 1\)"):
        kr.ResNet18(input_shape=(16, 1))
    with pytest.raises(ValueError, match=r"include_top=True.*known input"):
        kr.ResNet18(input_shape=(None, 1))
    backbone = kr.ResNet18(input_shape=(None, 1), include_top=False, pooling="avg")
    assert backbone.output.shape == (None, 512)


@pytest.mark.parametrize(
    "norm, kind", [("layer", "LayerNormalization"), ("group", "GroupNormalization")]
)
def test_norm_choice_replaces_every_batch_norm_and_trains(norm, kind, tmp_path):
    model = kr.build("ResNet20", norm=norm, input_shape=(32, 32, 3), classes=3)
    norms = [layer for layer in model.layers if layer.name.endswith("_bn")]
    assert norms and {type(layer).__name__ for layer in norms} == {kind}
    assert "BatchNormalization" not in _kinds(model)
    if norm == "group":
        # 32 groups where the channels allow, else their common divisor.
        assert model.get_layer("conv4_block1_1_bn").groups == 32
        assert model.get_layer("conv2_block1_1_bn").groups == 16
    rng = np.random.default_rng(3)
    x = rng.random((4, 32, 32, 3), dtype=np.float32)
    assert_trains_and_reloads(model, x, rng.integers(0, 3, 4), tmp_path / "n.keras")


def test_unknown_norm_is_refused_with_close_matches():
    with pytest.raises(ValueError, match=r"norm.*'grup'.*Did you mean 'group'"):
        kr.build("ResNet20", norm="grup")
