"""Multi-level features and the float32 head under mixed precision."""

import keras
import pytest

import keras_residual as kr
from tests.conftest import random_images

pytestmark = pytest.mark.jax  # also run on the JAX backend


def test_resnet50_pyramid_taps_the_stage_outputs():
    features = kr.pyramid_model(kr.ResNet50(include_top=False))
    outputs = features(random_images(1, 224))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "P2": (1, 56, 56, 256),
        "P3": (1, 28, 28, 512),
        "P4": (1, 14, 14, 1024),
        "P5": (1, 7, 7, 2048),
    }
    model = kr.ResNet50(include_top=False)
    assert model.pyramid_outputs["P4"] is model.get_layer("conv4_block6_out").output


def test_v2_pyramid_taps_the_last_block_at_each_stride():
    model = kr.ResNet50V2(include_top=False)
    taps = {k: v for k, v in model.pyramid_outputs.items()}
    assert taps["P2"] is model.get_layer("conv2_block2_out").output
    assert taps["P3"] is model.get_layer("conv3_block3_out").output
    assert taps["P5"] is model.get_layer("conv5_block3_out").output


def test_pyramid_levels_can_be_chosen_and_are_checked():
    features = kr.pyramid_model("ResNet20", levels=("P1", "P2"))
    out = features(random_images(2, 32))
    assert set(out) == {"P1", "P2"} and out["P2"].shape == (2, 8, 8, 64)
    with pytest.raises(ValueError, match=r"pyramid level.*'P7'"):
        kr.pyramid_model("ResNet20", levels=("P7",))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_head_computes_in_float32_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = kr.ResNet20()
    compute = "float16" if policy == "mixed_float16" else "bfloat16"
    assert model.get_layer("conv2_block1_1_conv").compute_dtype == compute
    assert model.get_layer("predictions").compute_dtype == "float32"
    y = model(random_images(2, 32))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    pooled = kr.ResNet20(include_top=False, pooling="avg")(random_images(2, 32))
    assert keras.backend.standardize_dtype(pooled.dtype) == "float32"


def test_keras_applications_head_is_not_float32_under_mixed_float16():
    """The contrast the float32 head fixes (tensorflow/tensorflow#34406)."""
    keras.config.set_dtype_policy("mixed_float16")
    theirs = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3))
    y = theirs(random_images(1, 32))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
