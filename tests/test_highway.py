"""The highway (gate) family: the gate's maths and start, options, models,
and gate telemetry."""

import csv
import math
import os

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual import analysis
from tests.conftest import TINY
from tests.conftest import random_images


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def one_block_spec(**args):
    return kr.ModelSpec(
        stem=kr.StemSpec("cifar", 8),
        stages=(kr.StageSpec(1, 8, "highway", stride=1, args=args),),
        default_size=32,
    )


def test_block_computes_h_times_t_plus_x_times_one_minus_t():
    keras.utils.set_random_seed(0)
    model = kr.build(one_block_spec(), classes=3)
    probe = keras.Model(
        model.input,
        [
            model.get_layer("conv1_relu").output,  # x
            model.get_layer("conv2_block1_1_relu").output,  # H
            model.get_layer("conv2_block1_gate").output,  # T
            model.get_layer("conv2_block1_out").output,  # y
        ],
    )
    x, h, t, y = (np.array(v) for v in probe(random_images(2, 32)))
    np.testing.assert_allclose(y, h * t + x * (1.0 - t), atol=1e-5)


@pytest.mark.parametrize("bias", [-2.0, -1.0, -4.0])
def test_gate_starts_nearly_closed_at_sigmoid_of_its_bias(bias):
    keras.utils.set_random_seed(0)
    model = kr.HighwayNet20(gate_bias=bias)
    for layer in model.layers:
        if layer.name.endswith("_gate_conv"):
            np.testing.assert_array_equal(np.array(layer.bias), bias)
    means = analysis.gate_activations(model, random_images(8, 32))
    assert len(means) == 9
    for block, mean in means.items():
        assert abs(mean - sigmoid(bias)) < 0.1, (block, mean)


def test_options_transform_norm_depth_drop_path_and_projection_carry():
    model = kr.HighwayNet20(drop_path_rate=0.1)
    names = [layer.name for layer in model.layers]
    assert "conv3_block1_0_conv" in names  # projection where width changes
    assert "conv2_block1_2_bn" in names  # transform_depth 2 with BN
    assert sum(isinstance(layer, kr.DropPath) for layer in model.layers) == 9
    bare = kr.build(one_block_spec(transform_norm=False))
    assert not [
        n
        for n in (layer.name for layer in bare.layers)
        if n.startswith("conv2_block1") and n.endswith("_bn")
    ]
    assert kr.get_block("highway").merge == "gate"


@pytest.mark.parametrize("bias", [float("nan"), float("inf")])
def test_non_finite_gate_bias_is_refused(bias):
    with pytest.raises(ValueError, match="`gate_bias` must be finite"):
        kr.HighwayNet20(gate_bias=bias)


def test_highway19_is_the_papers_size_and_has_no_batchnorm():
    model = kr.HighwayNet19()
    assert abs(model.count_params() / 2.3e6 - 1.0) < 0.05  # paper: 2.3M
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers
    )
    transforms = [layer for layer in model.layers if layer.name.endswith("_1_conv")]
    plain = [
        layer
        for layer in model.layers
        if layer.name in ("conv1_conv", "pool2_conv", "pool3_conv")
    ]
    assert len(transforms) + len(plain) + 1 == 19  # + the classifier


def test_gate_telemetry_reaches_history_csv_tensorboard_and_a_png(tmp_path):
    keras.utils.set_random_seed(0)
    model = kr.HighwayNet20(**TINY)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    x = random_images(16, 32)
    y = np.arange(16) % 10
    png = tmp_path / "gates.png"
    telemetry = analysis.GateTelemetry(x[:4], plot_path=str(png))
    csv_path = tmp_path / "history.csv"
    callbacks = [telemetry, keras.callbacks.CSVLogger(str(csv_path))]
    if keras.backend.backend() == "tensorflow":
        callbacks.append(keras.callbacks.TensorBoard(str(tmp_path / "tb")))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
    keys = [k for k in history.history if k.startswith("gate/")]
    assert sorted(keys) == [f"gate/conv{s}_block1" for s in (2, 3, 4)]
    assert all(0.0 < v < 1.0 for k in keys for v in history.history[k])
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and "gate/conv3_block1" in rows[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(telemetry.history) == 2
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tags = set()
        train_dir = tmp_path / "tb" / "train"
        for name in os.listdir(train_dir):
            for record in tf.data.TFRecordDataset(str(train_dir / name)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                tags.update(v.tag for v in event.summary.value)
        assert "epoch_gate/conv2_block1" in tags


def test_gate_telemetry_needs_highway_blocks():
    with pytest.raises(ValueError, match="no highway gates"):
        analysis.gate_activations(kr.ResNet20(), random_images(2, 32))


@pytest.mark.jax
def test_gate_telemetry_under_mixed_bfloat16_matches_float32(tmp_path):
    """Issue 29: the same weights under `mixed_bfloat16` report the mean
    gates float32 reports, within 1e-2 (NumPy's bfloat16 sum used to give
    about 2**-12), and the plot draws them."""
    keras.utils.set_random_seed(0)
    reference = kr.HighwayNet20(depths=(2, 2, 2))
    images = random_images(256, 32)
    expected = analysis.gate_activations(reference, images)
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = kr.HighwayNet20(depths=(2, 2, 2))
    model.set_weights(reference.get_weights())
    assert model.get_layer("conv2_block1_gate").compute_dtype == "bfloat16"
    means = analysis.gate_activations(model, images)
    assert list(means) == list(expected)
    for name, value in means.items():
        assert abs(value - expected[name]) < 1e-2, (name, value, expected[name])
        assert value > 0.05
    png = analysis.plot_gate_activations(means, str(tmp_path / "gates.png"))
    assert open(png, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
