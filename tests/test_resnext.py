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


@pytest.mark.slow  # over ~7 s: out of the fast tier
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


@pytest.mark.jax
@pytest.mark.parametrize(
    "rank, stride, padding, per_group",
    [
        (2, 1, "same", False),
        (2, 2, "valid", False),
        (1, 2, "same", False),
        (2, 2, "same", True),
        (1, 1, "valid", True),
    ],
)
def test_grouped_conv_layers_equal_keras_conv_in_outputs_and_gradients(
    rank, stride, padding, per_group, monkeypatch
):
    """The grouped 3x3 runs TensorFlow's native kernel (Keras would compile
    it with XLA, whose CPU gradient is ~200x slower), or one convolution
    per group where this machine's kernel has no grouped gradient
    (`per_group` forces that path; otherwise the probe chooses); it must
    compute what Keras' own layer computes, forward and backward."""
    from keras_residual.layers import GroupedConv1D
    from keras_residual.layers import GroupedConv2D
    from keras_residual.layers import grouped_conv

    if per_group:
        monkeypatch.setattr(grouped_conv, "native_grouped_gradients", lambda: False)

    ours_class, keras_class = (
        (GroupedConv2D, keras.layers.Conv2D)
        if rank == 2
        else (GroupedConv1D, keras.layers.Conv1D)
    )
    shape = (2,) + (15,) * rank + (32,)
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours = ours_class(16, 3, strides=stride, padding=padding, groups=8, name="ours")
    theirs = keras_class(16, 3, strides=stride, padding=padding, groups=8, name="k")
    ours.build(shape)
    theirs.build(shape)
    theirs.set_weights(ours.get_weights())
    assert type(ours).__name__ != "Conv2D" and isinstance(ours, keras_class)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x)),
        keras.ops.convert_to_numpy(theirs(x)),
        atol=1e-5,
    )
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def gradients(layer):
            inputs = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = tf.reduce_sum(tf.sin(layer(inputs)))
            return tape.gradient(loss, [inputs, *layer.trainable_variables])

        for mine, reference in zip(gradients(ours), gradients(theirs)):
            np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-4)


def test_resnext_uses_the_grouped_layer_only_where_there_are_groups():
    model = kr.ResNeXt50_32x4d(input_shape=(64, 64, 3), classes=10)
    kinds = {type(layer).__name__ for layer in model.layers if "_conv" in layer.name}
    assert kinds == {"Conv2D", "GroupedConv2D"}
    assert type(model.get_layer("conv2_block1_2_conv")).__name__ == "GroupedConv2D"
    assert type(model.get_layer("conv2_block1_1_conv")).__name__ == "Conv2D"
