"""The block registry and the residual family's behaviour."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.blocks import residual_add
from keras_residual.blocks import shortcut_path
from tests.conftest import TINY
from tests.conftest import random_images


def layer_names(model):
    return [layer.name for layer in model.layers]


def test_registry_lists_the_residual_family_with_merges():
    blocks = kr.list_blocks()
    for name in (
        "basic",
        "bottleneck",
        "preact_basic",
        "preact_bottleneck",
        "plain",
        "plain_bottleneck",
    ):
        assert blocks[name]
    assert kr.get_block("bottleneck").expansion == 4
    assert kr.get_block("plain").merge == "none"
    assert kr.get_block("basic").merge == "add"


# A squeeze-and-excitation basic block, registered from this test file alone.
def se_basic_block(x, call):
    layers, name = call.layers, call.name
    shortcut = shortcut_path(x, call)
    y = layers.conv(
        x, call.filters, 3, f"{name}_1_conv", strides=call.stride, padding="same"
    )
    y = layers.act(layers.bn(y, f"{name}_1_bn"), f"{name}_1")
    y = layers.conv(y, call.filters, 3, f"{name}_2_conv", padding="same")
    y = layers.bn(y, f"{name}_2_bn")
    squeeze = keras.layers.GlobalAveragePooling2D(
        keepdims=True, name=f"{name}_se_pool"
    )(y)
    squeeze = keras.layers.Dense(
        max(1, call.filters // 4), activation="relu", name=f"{name}_se_reduce"
    )(squeeze)
    squeeze = keras.layers.Dense(
        call.filters, activation="sigmoid", name=f"{name}_se_expand"
    )(squeeze)
    y = keras.layers.Multiply(name=f"{name}_se_scale")([y, squeeze])
    y = residual_add(call, shortcut, y)
    return layers.act(y, name=f"{name}_out")


@pytest.fixture
def se_block():
    kr.register_block("se_basic", se_basic_block, description="SE basic block.")
    yield "se_basic"
    kr.blocks.BLOCKS.unregister("se_basic")


def test_user_block_builds_trains_and_reloads(se_block, tmp_path):
    keras.utils.set_random_seed(0)
    model = kr.build("ResNet20", block=se_block, **TINY)
    assert "conv3_block1_se_scale" in layer_names(model)
    x = random_images(16, 32)
    y = np.arange(16) % 10
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy()
    )
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "se.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.array(reloaded(x)), np.array(model(x)), atol=1e-5)
    assert reloaded.spec.stages[0].block == se_block


def test_register_block_refuses_duplicates_and_bad_arguments():
    with pytest.raises(ValueError, match="already registered"):
        kr.register_block("basic", se_basic_block)
    with pytest.raises(ValueError, match=r"`merge`.*'sum'"):
        kr.register_block("x_block", se_basic_block, merge="sum")
    with pytest.raises(TypeError, match="callable"):
        kr.register_block("x_block", "not a function")
    assert "x_block" not in kr.list_blocks()


def test_option_a_shortcut_is_a_zero_padded_strided_identity():
    model = kr.ResNet20()
    names = layer_names(model)
    assert not [n for n in names if n.endswith("_0_conv")]
    assert [n for n in names if n.endswith("_0_pad")] == [
        "conv3_block1_0_pad",
        "conv4_block1_0_pad",
    ]
    layer = kr.ZeroPadShortcut(32, strides=2)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    y = np.array(layer(x))
    assert y.shape == (2, 4, 4, 32)
    np.testing.assert_array_equal(y[..., :16], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 16:], 0.0)


def test_projection_shortcut_option_b_and_plain_nets_have_no_add():
    projected = kr.build(
        kr.get_spec("ResNet20").replace(
            stages=tuple(
                s.__class__(
                    s.depth, s.filters, s.block, s.stride, shortcut="projection"
                )
                for s in kr.get_spec("ResNet20").stages
            )
        )
    )
    names = layer_names(projected)
    assert "conv3_block1_0_conv" in names and "conv3_block1_0_bn" in names
    assert (
        sum(isinstance(layer, keras.layers.Add) for layer in kr.ResNet20().layers) == 9
    )
    assert not any(
        isinstance(layer, keras.layers.Add) for layer in kr.PlainNet20().layers
    )
    assert kr.PlainNet56().count_params() == kr.ResNet56().count_params()


def test_drop_path_rates_follow_the_linear_decay_rule():
    model = kr.ResNet20(drop_path_rate=0.2)
    rates = [layer.rate for layer in model.layers if isinstance(layer, kr.DropPath)]
    total = 9
    np.testing.assert_allclose(rates, [0.2 * layer / total for layer in range(1, 10)])
    assert model.get_layer("conv4_block3_drop_path").rate == pytest.approx(0.2)


def test_drop_path_layer_drops_whole_samples_only_in_training():
    layer = kr.DropPath(0.5, seed=1)
    x = np.ones((400, 2, 2, 3), "float32")
    np.testing.assert_array_equal(np.array(layer(x, training=False)), x)
    y = np.array(layer(x, training=True))
    per_sample = y.reshape(400, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 0.35 < np.mean(per_sample[:, 0] == 0.0) < 0.65


def test_zero_init_residual_makes_blocks_start_as_identity():
    model = kr.ResNet20(zero_init_residual=True)
    for layer in model.layers:
        if layer.name.endswith("_2_bn"):
            np.testing.assert_array_equal(np.array(layer.gamma), 0.0)
    probe = keras.Model(
        model.input,
        [
            model.get_layer("conv2_block1_out").output,
            model.get_layer("conv1_relu").output,
        ],
    )
    out, stem = probe(random_images(2, 32), training=False)
    np.testing.assert_allclose(np.array(out), np.maximum(np.array(stem), 0), atol=1e-6)
    preact = kr.PreActResNet164(zero_init_residual=True)
    np.testing.assert_array_equal(
        np.array(preact.get_layer("conv2_block1_3_conv").kernel), 0.0
    )


def test_activation_and_bn_options_reach_every_layer():
    model = kr.ResNet20(activation="gelu", bn_momentum=0.8, bn_epsilon=1e-3)
    activations = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Activation)
    ]
    assert activations and all(
        layer.activation.__name__ == "gelu" for layer in activations
    )
    assert "conv2_block1_1_gelu" in layer_names(model)
    norms = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert all(layer.momentum == 0.8 and layer.epsilon == 1e-3 for layer in norms)


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_published_parameter_counts_of_the_other_models():
    """torchvision (trainable) and He et al. Table 6 / He et al. 2016."""

    def trainable(model):
        return sum(int(np.prod(v.shape)) for v in model.trainable_weights)

    assert trainable(kr.ResNet18()) == 11_689_512
    assert trainable(kr.ResNet34()) == 21_797_672
    table6 = {
        "ResNet20": 0.27,
        "ResNet32": 0.46,
        "ResNet44": 0.66,
        "ResNet56": 0.85,
        "ResNet110": 1.7,
        "PreActResNet164": 1.7,
    }
    for name, millions in table6.items():
        count = trainable(kr.build(name)) / 1e6
        digits = 2 if millions < 1 else 1
        assert round(count, digits) == millions, (name, count)


def test_overrides_depths_widths_and_stride_placement():
    assert kr.build("ResNet50", depths=(3, 4, 23, 3)).count_params() == 44_707_176
    half = kr.build("ResNet50", width_multiplier=0.5)
    assert half.spec.widths == (32, 64, 128, 256)
    assert half.get_layer("conv1_conv").filters == 32
    assert half.get_layer("conv5_block3_3_conv").filters == 1024
    v2 = kr.ResNet50V2()
    assert v2.get_layer("conv2_block3_2_conv").strides == (2, 2)
    assert v2.get_layer("conv2_block1_2_conv").strides == (1, 1)
    v15 = kr.build("ResNet50", block="bottleneck")
    assert v15.get_layer("conv3_block1_1_conv").strides == (2, 2)
    spec = kr.get_spec("ResNet50")
    v15 = kr.build(
        spec.replace(
            stages=tuple(
                s.__class__(
                    s.depth, s.filters, s.block, s.stride, args={"stride_on": "3x3"}
                )
                for s in spec.stages
            )
        )
    )
    assert v15.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_2_conv").strides == (2, 2)


def test_block_override_switches_to_a_supported_shortcut():
    plain = kr.build("ResNet20", block="plain")
    assert {s.shortcut for s in plain.spec.stages} == {"none"}
    assert plain.count_params() == kr.PlainNet20().count_params()
