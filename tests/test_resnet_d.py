"""ResNet-D (#17): the deep stem and average-pool shortcuts, as `build()`
options of any ResNet and as timm's `resnet50d` (its parameter count), and
the arguments refused. Conversion from timm is in test_timm_converter.py."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import assert_trains_and_reloads

# timm.create_model("resnet50d") parameters (../shared/REFERENCE.md: 25.58M),
# which are our trainable weights.
TIMM_RESNET50D_PARAMETERS = 25_576_264


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def test_resnet50d_matches_timm_parameter_count():
    model = kr.ResNet50D()
    assert _trainable(model) == TIMM_RESNET50D_PARAMETERS
    names = [layer.name for layer in model.layers]
    stem = [n for n in names if n.startswith("conv1_")]
    assert stem == [
        "conv1_1_pad",
        "conv1_1_conv",
        "conv1_1_bn",
        "conv1_1_relu",
        "conv1_2_conv",
        "conv1_2_bn",
        "conv1_2_relu",
        "conv1_3_conv",
        "conv1_bn",
        "conv1_relu",
    ]
    widths = [model.get_layer(f"conv1_{i}_conv").filters for i in (1, 2, 3)]
    assert widths == [32, 32, 64]
    # Average-pool shortcuts where a stage strides; none in conv2 (stride 1).
    assert "conv3_block1_0_pool" in names and "conv2_block1_0_pool" not in names
    assert model.get_layer("conv3_block1_0_conv").strides == (1, 1)


def test_average_pool_shortcut_keeps_odd_edges_as_timm_ceil_mode():
    """A 7x7 map pooled 2x2/2 gives 4x4; the edge windows average only the
    entries inside the map (timm: ceil_mode=True, count_include_pad=False)."""
    model = kr.build(
        "ResNet18",
        stem="deep",
        avg_down=True,
        input_shape=(56, 56, 3),
        include_top=False,
    )
    pool = model.get_layer("conv4_block1_0_pool")
    assert tuple(pool.input.shape[1:3]) == (7, 7)
    x = np.arange(7 * 7, dtype=np.float32).reshape(1, 7, 7, 1)
    y = keras.ops.convert_to_numpy(pool(x))[0, ..., 0]
    expected = np.zeros((4, 4), np.float32)
    for i in range(4):
        for j in range(4):
            expected[i, j] = x[0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, 0].mean()
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert y[3, 3] == 48.0  # the corner window holds one entry


def test_deep_stem_and_avg_down_on_any_resnet_train_and_reload(tmp_path):
    model = kr.build(
        "ResNet20", stem="deep", avg_down=True, input_shape=(32, 32, 3), classes=4
    )
    names = [layer.name for layer in model.layers]
    assert "conv1_3_conv" in names and "conv3_block1_0_pool" not in names
    # ResNet20's option-A shortcuts have no projection to pool; ResNet18's do.
    resnet18 = kr.ResNet18(stem="deep", avg_down=True, input_shape=(64, 64, 3))
    assert "conv3_block1_0_pool" in [layer.name for layer in resnet18.layers]
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 4, 8)
    assert_trains_and_reloads(model, x, y, tmp_path / "resnet20d.keras")


def test_unknown_stem_and_bad_avg_down_are_refused():
    with pytest.raises(ValueError, match=r"stem.*'deeep'.*Did you mean 'deep'"):
        kr.build("ResNet18", stem="deeep")
    with pytest.raises(ValueError, match=r"avg_down.*'yes'.*True, False"):
        kr.build("ResNet18", avg_down="yes", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"keyword argument.*'avg_down'"):
        kr.build("DenseNet121", avg_down=True)
