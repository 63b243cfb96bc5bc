"""timm / torchvision checkpoints: the converter against logits timm itself
computed (fixtures written by tests/data/timm/make_timm_fixtures.py), the
layouts it builds, and the checkpoints it refuses."""

import dataclasses
import os

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.weights.converters import load_checkpoint
from keras_residual.weights.converters import read_checkpoint

FIXTURES = os.path.join(os.path.dirname(__file__), "data", "timm")
LOGITS = np.load(os.path.join(FIXTURES, "logits.npz"))
# fixture file -> its logits in logits.npz
CHECKPOINTS = {
    "resnet_basic": "resnet_basic",
    "resnet_bottleneck": "resnet_bottleneck",
    "resnetv2": "resnetv2",
    "densenet": "densenet",
    "densenet_legacy": "densenet",
    "resnext": "resnext",
    "seresnet": "seresnet",
    "resnet_d": "resnet_d",
}


def fixture(name, suffix=".safetensors"):
    return os.path.join(FIXTURES, name + suffix)


def logits_of(model, size):
    return model.predict(LOGITS[f"input_{size}"], verbose=0)


def snapshot(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.weights]


# One case per layout also runs on JAX (the backend-neutral converters).
ON_JAX = {("resnet_bottleneck", 64), ("resnetv2", 64), ("densenet", 57)}


@pytest.mark.parametrize(
    "name, size",
    [
        pytest.param(name, size, marks=[pytest.mark.jax] * ((name, size) in ON_JAX))
        for name in sorted(CHECKPOINTS)
        for size in (64, 57)
    ],
)
def test_converted_checkpoint_matches_timm_logits(name, size):
    model = kr.from_checkpoint(
        fixture(name), input_shape=(size, size, 3), classifier_activation=None
    )
    expected = LOGITS[f"{CHECKPOINTS[name]}_{size}"]
    np.testing.assert_allclose(logits_of(model, size), expected, atol=1e-4, rtol=0)


@pytest.mark.jax
def test_converted_vit_matches_timm_logits():
    """timm's fused qkv split into Keras' per-head query, key and value."""
    model = kr.from_checkpoint(fixture("vit"), classifier_activation=None)
    assert model.input.shape[1:] == (32, 32, 3)
    np.testing.assert_allclose(logits_of(model, 32), LOGITS["vit_32"], atol=1e-4)


@pytest.mark.parametrize(
    "name, change",
    [
        # ResNet-D's shortcut without its average pool (a strided 1x1).
        ("resnet_d", {"avg_down": False}),
        # Keras "same" padding on the strided 3x3 convs instead of PyTorch's.
        ("resnet_bottleneck", {"padding": "same"}),
        ("resnet_basic", {"padding": "same"}),
        # Keras' default BatchNorm epsilon instead of PyTorch's 1e-5.
        ("densenet", {"bn_epsilon": 1e-3}),
    ],
)
def test_the_layout_matters_the_logits_differ_without_it(name, change):
    checkpoint = read_checkpoint(fixture(name))
    model = kr.build(
        checkpoint.architecture.spec,
        input_shape=(64, 64, 3),
        classes=10,
        classifier_activation=None,
        **change,
    )
    load_checkpoint(model, checkpoint)
    difference = np.abs(logits_of(model, 64) - LOGITS[f"{name}_64"]).max()
    assert difference > 1e-3


def test_vit_heads_matter_the_logits_differ_with_one_head():
    checkpoint = read_checkpoint(fixture("vit"))
    model = kr.build(
        checkpoint.architecture.spec, classes=10, classifier_activation=None, heads=1
    )
    load_checkpoint(model, checkpoint)
    # Two heads match timm to ~1e-7 (above); random weights attend almost
    # uniformly, so one head moves the logits by ~4e-4 only.
    assert np.abs(logits_of(model, 32) - LOGITS["vit_32"]).max() > 1e-5


def test_zero_padded_stem_pool_differs_from_timm_resnetv2():
    spec = read_checkpoint(fixture("resnetv2")).architecture.spec
    zeros = dataclasses.replace(
        spec.stem, args={"norm": False, "pool_padding": "zeros"}
    )
    model = kr.build(
        spec.replace(stem=zeros),
        input_shape=(64, 64, 3),
        classes=10,
        classifier_activation=None,
    )
    load_checkpoint(model, read_checkpoint(fixture("resnetv2")))
    difference = np.abs(logits_of(model, 64) - LOGITS["resnetv2_64"]).max()
    assert difference > 1e-4


def test_described_architecture_follows_the_checkpoint():
    bottleneck = read_checkpoint(fixture("resnet_bottleneck")).architecture
    assert bottleneck.family == "resnet"
    assert bottleneck.classes == 10
    assert [s.depth for s in bottleneck.spec.stages] == [2, 2, 2, 2]
    assert [s.filters for s in bottleneck.spec.stages] == [4, 8, 16, 32]
    stage = bottleneck.spec.stages[1]
    assert (stage.block, stage.args["stride_on"], stage.args["padding"]) == (
        "bottleneck",
        "3x3",
        "symmetric",
    )
    assert (bottleneck.spec.use_bias, bottleneck.spec.bn_epsilon) == (False, 1e-5)
    dense = read_checkpoint(fixture("densenet")).architecture
    assert [s.depth for s in dense.spec.stages] == [2, 2, 2, 2]
    assert dense.spec.stages[0].filters == 8  # the growth rate
    assert dense.spec.stem.filters == 16
    v2 = read_checkpoint(fixture("resnetv2")).architecture
    assert v2.spec.stem.args == {"norm": False, "pool_padding": "ignore"}
    assert v2.spec.final_norm_prefix == "post"


def test_described_variants_follow_the_checkpoint():
    """The values the fixtures were written with (make_timm_fixtures.py)."""
    resnext = read_checkpoint(fixture("resnext")).architecture.spec
    assert {s.block for s in resnext.stages} == {"resnext"}
    assert (
        resnext.stages[0].args["cardinality"],
        resnext.stages[0].args["base_width"],
    ) == (4, 32)
    assert resnext.widths == (8, 16, 32, 64)
    se = read_checkpoint(fixture("seresnet")).architecture.spec
    assert {s.args.get("attention") for s in se.stages} == {"se"}
    resnet_d = read_checkpoint(fixture("resnet_d")).architecture
    assert resnet_d.spec.stem.kind == "deep" and resnet_d.spec.stem.filters == 16
    assert all(s.args["avg_down"] for s in resnet_d.spec.stages)
    assert "deep stem, avg_down" in resnet_d.description
    vit = read_checkpoint(fixture("vit")).architecture
    stage = vit.spec.stages[0]
    assert (vit.family, vit.spec.stem.args["patch_size"], stage.filters) == (
        "vit",
        8,
        128,
    )
    assert (stage.depth, stage.args["heads"], stage.args["mlp_ratio"]) == (2, 2, 2.0)
    assert stage.args["layer_scale"] is not None and vit.spec.default_size == 32


def test_zoo_models_refuse_checkpoints_of_another_variant():
    """Same depths and widths, other variables: refused before building."""
    spec = read_checkpoint(fixture("resnet_bottleneck")).architecture.spec
    kr.register_model("TinyPlainResNet", spec, description="test", classes=10)
    try:
        for other in ("seresnet", "resnet_d"):
            with pytest.raises(ValueError, match="which is not this model"):
                kr.build("TinyPlainResNet", weights=fixture(other))
    finally:
        from keras_residual.models.zoo import MODELS

        MODELS.unregister("TinyPlainResNet")


def test_torch_pth_file_matches_the_same_logits():
    pytest.importorskip("torch", reason="reading .pth files needs torch")
    model = kr.from_checkpoint(
        fixture("resnet_basic", ".pth"),
        input_shape=(64, 64, 3),
        classifier_activation=None,
    )
    np.testing.assert_allclose(
        logits_of(model, 64), LOGITS["resnet_basic_64"], atol=1e-4, rtol=0
    )


def test_pth_without_torch_or_with_torch_is_never_unpickled_blindly(tmp_path):
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="needs `torch`"):
            kr.from_checkpoint(fixture("resnet_basic", ".pth"))
        return
    # With torch: weights_only=True refuses a pickle that runs code.
    import pickle

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": os.system}))
    with pytest.raises(ValueError, match="could not be read"):
        kr.from_checkpoint(str(path))


def test_other_classes_get_a_new_classifier_and_keep_the_backbone():
    reference = kr.from_checkpoint(fixture("densenet"), input_shape=(64, 64, 3))
    with pytest.warns(UserWarning, match="except the classifier"):
        model = kr.from_checkpoint(
            fixture("densenet"), input_shape=(64, 64, 3), classes=3
        )
    assert model.get_layer("predictions").units == 3
    for layer in reference.layers:
        if layer.weights and layer.name != "predictions":
            for ours, theirs in zip(model.get_layer(layer.name).weights, layer.weights):
                np.testing.assert_array_equal(
                    keras.ops.convert_to_numpy(ours),
                    keras.ops.convert_to_numpy(theirs),
                )


def test_backbone_without_top_matches_the_pooled_features():
    full = kr.from_checkpoint(fixture("resnet_bottleneck"), input_shape=(64, 64, 3))
    backbone = kr.from_checkpoint(
        fixture("resnet_bottleneck"), include_top=False, pooling="avg"
    )
    features = keras.Model(full.input, full.get_layer("avg_pool").output)
    images = LOGITS["input_64"]
    np.testing.assert_allclose(
        backbone.predict(images, verbose=0),
        features.predict(images, verbose=0),
        atol=1e-5,
    )


def test_one_channel_model_on_gray_equals_rgb_model_on_repeated_gray():
    rgb = kr.from_checkpoint(
        fixture("resnet_basic"), input_shape=(64, 64, 3), classifier_activation=None
    )
    with pytest.warns(UserWarning, match="Adapted the RGB weights"):
        gray_model = kr.from_checkpoint(
            fixture("resnet_basic"),
            input_shape=(64, 64, 1),
            classifier_activation=None,
        )
    gray = LOGITS["input_64"][..., :1]
    np.testing.assert_allclose(
        gray_model.predict(gray, verbose=0),
        rgb.predict(np.repeat(gray, 3, axis=-1), verbose=0),
        atol=1e-4,
    )


def test_converted_model_reloads_from_keras_file_in_safe_mode(tmp_path):
    model = kr.from_checkpoint(
        fixture("resnetv2"), input_shape=(64, 64, 3), preprocessing="torch"
    )
    path = str(tmp_path / "resnetv2.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert reloaded.get_layer("pool1_pad").__class__.__name__ == "PoolPadding2D"
    assert reloaded.preprocessing == "torch"
    np.testing.assert_allclose(
        reloaded.predict(LOGITS["input_64"], verbose=0),
        model.predict(LOGITS["input_64"], verbose=0),
        atol=1e-6,
    )


def test_checkpoint_of_another_architecture_is_refused_before_any_assignment():
    model = kr.from_checkpoint(fixture("resnet_bottleneck"), input_shape=(64, 64, 3))
    before = snapshot(model)
    for other in ("densenet", "resnet_basic", "resnetv2"):
        with pytest.raises(ValueError, match="does not fit"):
            load_checkpoint(model, read_checkpoint(fixture(other)))
    for ours, saved in zip(snapshot(model), before):
        np.testing.assert_array_equal(ours, saved)


def test_zoo_model_refuses_a_checkpoint_of_other_depths_or_widths():
    with pytest.raises(ValueError, match=r"holds a timm/torchvision ResNet") as error:
        kr.ResNet50(weights=fixture("resnet_bottleneck"))
    assert "from_checkpoint" in str(error.value)
    with pytest.raises(ValueError, match="DenseNet"):
        kr.DenseNet121(weights=fixture("densenet"))


def test_zoo_model_adopts_the_checkpoint_layout(tmp_path):
    """A ResNet18 given a torchvision-layout state dict of its own shape is
    built with symmetric padding; one built by hand is not."""
    checkpoint = read_checkpoint(fixture("resnet_basic"))
    spec = checkpoint.architecture.spec
    kr.register_model("TinyTorchResNet", spec, description="test", classes=10)
    try:
        model = kr.build(
            "TinyTorchResNet",
            weights=fixture("resnet_basic"),
            input_shape=(64, 64, 3),
            classifier_activation=None,
        )
        assert "conv3_block1_1_pad" in [layer.name for layer in model.layers]
        np.testing.assert_allclose(
            logits_of(model, 64), LOGITS["resnet_basic_64"], atol=1e-4
        )
    finally:
        from keras_residual.models.zoo import MODELS

        MODELS.unregister("TinyTorchResNet")


def test_truncated_and_corrupt_safetensors_are_refused(tmp_path):
    source = fixture("resnet_basic")
    data = open(source, "rb").read()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated|does not fit|exceeds"):
        kr.from_checkpoint(str(truncated))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(data[:8] + b"{" + os.urandom(200))
    with pytest.raises(ValueError, match="not a valid safetensors|neither"):
        kr.from_checkpoint(str(garbage))
    text = tmp_path / "notes.safetensors"
    text.write_text("not weights at all")
    with pytest.raises(ValueError, match="neither a safetensors nor a torch"):
        from keras_residual.weights.state_dict import read_state_dict

        read_state_dict(str(text))


def test_aliased_offsets_and_negative_variances_are_refused(tmp_path):
    from keras_residual.weights.state_dict import read_safetensors

    state = read_safetensors(fixture("resnet_basic"))
    # A negative BatchNorm variance is finite, but every output is NaN.
    name = next(key for key in state if key.endswith("running_var"))
    bad = dict(state, **{name: -np.abs(state[name]) - 1.0})
    path = str(tmp_path / "negative.safetensors")
    write_safetensors(path, bad)
    with pytest.raises(ValueError, match="BatchNorm variance with negative values"):
        kr.from_checkpoint(path)
    # Two names reading the same bytes.
    tensors = {name: np.full(4, i, "float32") for i, name in enumerate("abc")}
    write_safetensors(path, tensors)
    data = bytearray(open(path, "rb").read())
    data = data.replace(b'"data_offsets": [16, 32]', b'"data_offsets": [32, 48]')
    open(path, "wb").write(bytes(data))
    with pytest.raises(ValueError, match="tensors overlap at data offset 32"):
        read_safetensors(path)


def test_unknown_layouts_and_unsupported_variants_are_named(tmp_path):
    from keras_residual.weights.state_dict import read_safetensors

    state = read_safetensors(fixture("resnet_basic"))
    # An anti-aliasing module that the converter cannot place.
    variant_state = dict(state, **{"layer1.0.aa.weight": np.zeros((4,), np.float32)})
    variant = tmp_path / "variant.safetensors"
    write_safetensors(variant, variant_state)
    with pytest.raises(ValueError, match="variant keras_residual does not build"):
        kr.from_checkpoint(str(variant))
    # An SE module squeezing to another width than timm's SEModule.
    for stage in range(1, 5):
        out = state[f"layer{stage}.0.conv2.weight"].shape[0]
        state[f"layer{stage}.0.se.fc1.weight"] = np.zeros((2, out, 1, 1), np.float32)
    squeezed = tmp_path / "squeezed.safetensors"
    write_safetensors(squeezed, state)
    with pytest.raises(ValueError, match="squeezes 4 channels to 2.*width 8"):
        kr.from_checkpoint(str(squeezed))
    other = tmp_path / "other.safetensors"
    write_safetensors(other, {"encoder.weight": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="no supported layout"):
        kr.from_checkpoint(str(other))


def test_registered_timm_weights_carry_their_metadata():
    from keras_residual.weights.registry import get_weights_entry

    expected = {
        ("ResNet50", "resnet50.a1_in1k"): (80.38, "apache-2.0"),
        ("ResNet50", "resnet50.tv2_in1k"): (80.85, "bsd-3-clause"),
        ("ResNet18", "resnet18.tv_in1k"): (69.75, "bsd-3-clause"),
        ("DenseNet121", "densenet121.tv_in1k"): (74.43, "bsd-3-clause"),
    }
    for (model, tag), (top1, license) in expected.items():
        entry = get_weights_entry(model, tag)
        assert (entry.top1, entry.license) == (top1, license)
        assert entry.preprocessing == "torch" and entry.input_size == 224
        assert entry.top.hub_repo == f"timm/{tag}"
        assert entry.top.file_name == "model.safetensors"


def write_safetensors(path, tensors):
    """A minimal safetensors writer (little-endian float32/int64 only)."""
    import json
    import struct

    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {"float32": "F32", "int64": "I64"}[array.dtype.name]
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    blob = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(blob)) + blob + b"".join(chunks))


def test_minimal_writer_round_trips_through_the_reader(tmp_path):
    from keras_residual.weights.state_dict import read_safetensors

    state = read_safetensors(fixture("densenet"))
    copy = tmp_path / "copy.safetensors"
    write_safetensors(copy, state)
    again = read_safetensors(str(copy))
    assert sorted(again) == sorted(state)
    for key in state:
        np.testing.assert_array_equal(again[key], state[key])


@pytest.mark.slow
def test_train_fine_tunes_from_a_timm_checkpoint_file(tmp_path):
    """`train(weights=<.safetensors>)`: the network the checkpoint holds,
    adapted to 1-channel digits, a new 3-class head, two phases; the
    frozen BatchNorm statistics stay timm's."""
    from keras_residual.data import load_digits_arrays

    data = {}
    for split, (images, labels) in load_digits_arrays().items():
        keep = np.flatnonzero(labels < 3)[: 30 if split == "train" else 60]
        data[split] = (images[keep], labels[keep])
    checkpoint = read_checkpoint(fixture("resnet_basic"))
    with pytest.warns(UserWarning, match="except the classifier"):
        run = kr.train(
            checkpoint.architecture.spec,
            data,
            str(tmp_path / "run"),
            weights=fixture("resnet_basic"),
            epochs=2,
            batch_size=8,
            # BatchNorm frozen on request (the default trains it).
            recipe_overrides={"head_epochs": 1, "freeze_bn": True},
            precision="float32",
            export=False,
            verbose=0,
        )
    assert run.metrics["recipe"] == "finetune"
    assert run.model.classes == 3 and run.model.image_shape[-1] == 1
    assert "conv3_block1_1_pad" in [layer.name for layer in run.model.layers]
    moving_mean = run.model.get_layer("conv2_block1_1_bn").get_weights()[2]
    np.testing.assert_allclose(
        moving_mean, checkpoint.state["layer1.0.bn1.running_mean"], atol=1e-6
    )
