"""keras-hub presets both ways, with presets keras-hub itself writes
(random weights, BatchNorm statistics moved off their defaults): every
ResNetBackbone variant builds here with equal outputs, and our models go
back as presets that `keras_hub.models.Backbone.from_preset` loads with
equal outputs; what keras-hub has no backbone for is refused, named."""

import keras
import numpy as np
import pytest

import keras_residual as kr

keras_hub = pytest.importorskip("keras_hub")

VARIANTS = [
    ("basic_block", False),
    ("bottleneck_block", False),
    ("basic_block_vd", False),
    ("bottleneck_block_vd", False),
    ("basic_block", True),
    ("bottleneck_block", True),
]


def _backbone(block_type, pre_activation):
    vd = block_type.endswith("_vd")
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[32, 32, 64] if vd else [64],
        input_conv_kernel_sizes=[3, 3, 3] if vd else [7],
        stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[2, 1],
        stackwise_num_strides=[1, 2],
        block_type=block_type,
        use_pre_activation=pre_activation,
        image_shape=(None, None, 3),
    )
    _move_statistics(backbone)
    return backbone


def _move_statistics(backbone):
    """BatchNorm statistics and offsets off their defaults, so that a
    dropped or misplaced one shows in the outputs."""
    rng = np.random.default_rng(3)
    for variable in backbone.weights:
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape))
        elif "moving_mean" in variable.path or "beta" in variable.path:
            variable.assign(rng.uniform(-0.3, 0.3, variable.shape))


def _images():
    return np.random.default_rng(0).uniform(0, 1, (2, 48, 48, 3)).astype("float32")


@pytest.mark.parametrize("block_type, pre_activation", VARIANTS)
def test_a_keras_hub_preset_round_trips_both_ways(tmp_path, block_type, pre_activation):
    backbone = _backbone(block_type, pre_activation)
    backbone.save_to_preset(str(tmp_path / "hub"))
    expected = backbone.predict(_images(), verbose=0)
    assert expected.std() > 0.05  # a comparison that could fail
    model = kr.from_keras_hub(str(tmp_path / "hub"))
    ours = model.predict(_images(), verbose=0)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    kr.to_keras_hub(model, tmp_path / "back")
    reloaded = keras_hub.models.Backbone.from_preset(str(tmp_path / "back"))
    assert type(reloaded).__name__ == "ResNetBackbone"
    np.testing.assert_allclose(reloaded.predict(_images(), verbose=0), ours, atol=1e-4)
    # The copy is what makes them equal: one changed kernel shows.
    conv = model.get_layer("conv2_block1_1_conv")
    conv.kernel.assign(conv.kernel.numpy() * 1.5)
    assert np.abs(model.predict(_images(), verbose=0) - expected).max() > 1e-3


@pytest.mark.jax
def test_a_model_built_here_goes_to_keras_hub_with_equal_outputs(tmp_path):
    """ResNet-50-D (timm's layout), with a classifier the backbone preset
    leaves out: keras-hub's backbone equals everything before our pooling."""
    model = kr.ResNet50D(weights=None, depths=(1, 1, 1, 1), input_shape=(64, 64, 3))
    folder = kr.to_keras_hub(model, tmp_path / "resnet50d")
    reloaded = keras_hub.models.Backbone.from_preset(folder)
    trunk = keras.Model(model.input, model.get_layer("avg_pool").input)
    images = np.random.default_rng(1).uniform(0, 1, (2, 64, 64, 3))
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0),
        trunk.predict(images, verbose=0),
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "model, reason",
    [
        ("ResNet50", "BatchNorm epsilon 1.001e-05"),
        ("SEResNet50", "no SE or groups"),
        ("DenseNet121", "stem 'densenet' {}"),
    ],
)
def test_architectures_keras_hub_lacks_are_refused_by_name(tmp_path, model, reason):
    network = kr.build(model, weights=None, include_top=False, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="keras-hub has no backbone") as error:
        kr.to_keras_hub(network, tmp_path / "out")
    assert reason in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "repeats, growth, compression", [([2, 3], 32, 0.5), ([1, 2, 2], 12, 1.0)]
)
def test_a_keras_hub_densenet_round_trips_both_ways(
    tmp_path, repeats, growth, compression
):
    backbone = keras_hub.models.DenseNetBackbone(
        stackwise_num_repeats=repeats,
        growth_rate=growth,
        compression_ratio=compression,
        image_shape=(None, None, 3),
    )
    _move_statistics(backbone)
    backbone.save_to_preset(str(tmp_path / "hub"))
    expected = backbone.predict(_images(), verbose=0)
    assert expected.std() > 0.05
    model = kr.from_keras_hub(str(tmp_path / "hub"))
    assert model.spec.stem.args == {"padding": "same"}
    ours = model.predict(_images(), verbose=0)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    kr.to_keras_hub(model, tmp_path / "back")
    reloaded = keras_hub.models.Backbone.from_preset(str(tmp_path / "back"))
    np.testing.assert_allclose(reloaded.predict(_images(), verbose=0), ours, atol=1e-4)


@pytest.mark.jax
@pytest.mark.parametrize("mlp_dim, epsilon", [(384, 1e-6), (256, 1e-5)])
def test_a_keras_hub_vit_round_trips_both_ways(tmp_path, mlp_dim, epsilon):
    """keras-hub's nested ViT variables (fused in `vit_encoder`) map to our
    named layers; its 2-D position embeddings to our (1, tokens, dim)."""
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=128,
        mlp_dim=mlp_dim,
        layer_norm_epsilon=epsilon,
    )
    rng = np.random.default_rng(0)
    for variable in backbone.weights:  # biases and embeddings off zero
        if variable.path.endswith(("beta", "bias", "embeddings", "class_token")):
            variable.assign(rng.normal(0, 0.2, variable.shape))
    backbone.save_to_preset(str(tmp_path / "hub"))
    images = _images()[:, :32, :32]
    expected = backbone.predict(images, verbose=0)
    model = kr.from_keras_hub(str(tmp_path / "hub"))
    assert model.spec.bn_epsilon == epsilon
    ours = model.predict(images, verbose=0)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    kr.to_keras_hub(model, tmp_path / "back")
    reloaded = keras_hub.models.Backbone.from_preset(str(tmp_path / "back"))
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), ours, atol=1e-4)


def test_a_vit_off_its_default_size_is_refused(tmp_path):
    """Position embeddings sized for 224 px do not fit a 32 px backbone."""
    model = kr.build("ViTTiny16", input_shape=(32, 32, 3), include_top=False)
    with pytest.raises(ValueError, match="position_embedding/embeddings"):
        kr.to_keras_hub(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_backbone_of_another_family_is_refused(tmp_path):
    backbone = keras_hub.models.VGGBackbone(
        stackwise_num_repeats=[1], stackwise_num_filters=[8]
    )
    backbone.save_to_preset(str(tmp_path / "vgg"))
    with pytest.raises(ValueError, match="holds a keras-hub VGGBackbone") as error:
        kr.from_keras_hub(str(tmp_path / "vgg"))
    assert "ResNetBackbone" in str(error.value) and "DenseNetBackbone" in str(
        error.value
    )


def test_the_image_converter_travels_with_the_backbone_both_ways(tmp_path):
    """A keras-hub preset's ImageConverter (CLIP's normalisation) becomes
    the model's preprocessing, and goes back out as one keras-hub applies
    to the same pixels; a BGR one has no spelling there and is warned."""
    backbone = _backbone("basic_block", False)
    clip = keras_hub.layers.ImageConverter(
        image_size=(48, 48),
        scale=[1 / (255 * s) for s in (0.26862954, 0.26130258, 0.27577711)],
        offset=[-m / s for m, s in zip(
            (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
        )],
    )  # fmt: skip
    backbone.save_to_preset(str(tmp_path / "hub"))
    clip.save_to_preset(str(tmp_path / "hub"))
    model = kr.from_keras_hub(str(tmp_path / "hub"))
    assert model.preprocessing.mean == (0.48145466, 0.4578275, 0.40821073)
    assert model.preprocessing.std == (0.26862954, 0.26130258, 0.27577711)
    kr.to_keras_hub(model, tmp_path / "back")
    back = keras_hub.layers.ImageConverter.from_preset(str(tmp_path / "back"))
    pixels = np.random.default_rng(2).integers(0, 256, (1, 48, 48, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(back(pixels)),
        keras.ops.convert_to_numpy(clip(pixels)),
        atol=1e-5,
    )
    model.preprocessing = "caffe"
    with pytest.warns(UserWarning, match="holds no image converter.*BGR"):
        kr.to_keras_hub(model, tmp_path / "bgr")
    assert not (tmp_path / "bgr" / "image_converter.json").exists()
