"""ResNeXt (#17, first family): grouped 3x3 bottlenecks matched to
torchvision's published parameter counts, `cardinality` and `base_width`
as build options, and the arguments refused."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import assert_trains_and_reloads

# torchvision's model table (../shared/REFERENCE.md): parameters, which are
# our trainable weights (BatchNorm's moving statistics are buffers there).
TORCHVISION_PARAMETERS = {
    "ResNeXt50_32x4d": 25_028_904,
    "ResNeXt101_32x8d": 88_791_336,
}


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMETERS))
def test_parameter_counts_match_torchvision(name):
    model = kr.build(name)
    assert _trainable(model) == TORCHVISION_PARAMETERS[name]
    assert model.output.shape[-1] == 1000


def test_the_3x3_is_grouped_by_cardinality_with_torchvision_widths():
    model = kr.ResNeXt50_32x4d(weights=None, input_shape=(64, 64, 3), classes=10)
    # 32 groups of 4 channels at 64 filters: 128 channels, as torchvision.
    conv = model.get_layer("conv2_block1_2_conv")
    assert conv.groups == 32
    assert tuple(conv.kernel.shape) == (3, 3, 128 // 32, 128)
    assert model.get_layer("conv5_block1_2_conv").kernel.shape[-1] == 1024
    assert model.get_layer("conv5_block3_out").output.shape[-1] == 2048
    # Options: 8 groups of 8 channels.
    model = kr.build(
        "ResNeXt50_32x4d",
        input_shape=(64, 64, 3),
        classes=10,
        cardinality=8,
        base_width=8,
        depths=(1, 1, 1, 1),
    )
    conv = model.get_layer("conv2_block1_2_conv")
    assert (conv.groups, conv.kernel.shape[-1]) == (8, 64)


def test_resnext_trains_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    model = kr.build(
        "ResNeXt50_32x4d", input_shape=(32, 32, 3), classes=4, depths=(1, 1, 1, 1)
    )
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 3])
    assert_trains_and_reloads(model, x, y, str(tmp_path / "resnext.keras"))


def test_bad_cardinality_and_base_width_are_refused():
    # 16 filters at base width 3: 0.75 channels per group.
    with pytest.raises(ValueError, match=r"`base_width=3`.*16 \* 3 / 64 = 0\.75"):
        kr.build(
            "ResNeXt50_32x4d",
            base_width=3,
            widths=(16, 32, 64, 128),
            input_shape=(32, 32, 3),
        )
    with pytest.raises(ValueError, match=r"`cardinality`"):
        kr.build("ResNeXt50_32x4d", cardinality=0, input_shape=(32, 32, 3))
    with pytest.raises(TypeError, match=r"`cardinality` must be an integer"):
        kr.build("ResNeXt50_32x4d", cardinality="32", input_shape=(32, 32, 3))
