"""`keras_residual.layers.BatchNormalization`: the fused TensorFlow training
path computes what `keras.layers.BatchNormalization` computes (outputs,
gradients, moving statistics), and it is the path that runs.

Expected values come from Keras' own `BatchNormalization` with the same
weights, never from the layer under test.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_residual import layers as residual_layers


def _pair(policy="float32", **kwargs):
    """Keras' layer and ours, built alike with the same random weights."""
    rng = np.random.default_rng(0)
    layers = []
    for cls in (keras.layers.BatchNormalization, residual_layers.BatchNormalization):
        layer = cls(momentum=0.9, epsilon=1e-5, dtype=policy, **kwargs)
        layer.build((None, 6, 5, 8))
        layers.append(layer)
    weights = [
        rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layers[0].weights
    ]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _train_step(layer, x):
    """The output and the gradients of a loss weighing every output by a
    fixed random number: a loss linear in each channel alone (e.g. `y * c`)
    would give gamma a gradient of exactly 0 in theory, leaving only the
    rounding of a sum, which depends on the thread count, to compare."""
    upstream = np.random.default_rng(3).normal(0, 1, x.shape).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    grads = tape.gradient(loss, [x] + layer.trainable_variables)
    return y, grads


@pytest.mark.parametrize("options", [{}, {"center": False}, {"scale": False}])
def test_fused_training_step_matches_keras_batch_normalization(options):
    theirs, ours = _pair(**options)
    x = tf.constant(np.random.default_rng(1).normal(2, 3, (4, 6, 5, 8)), "float32")
    expected, expected_grads = _train_step(theirs, x)
    y, grads = _train_step(ours, x)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    for grad, expected_grad in zip(grads, expected_grads):
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-4)
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-6, atol=1e-6
        )
    # Inference is the parent's code: equal outputs.
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-6, atol=1e-5)


def test_mixed_bfloat16_matches_within_bfloat16_rounding():
    theirs, ours = _pair("mixed_bfloat16")
    x = tf.constant(np.random.default_rng(2).normal(0, 1, (4, 6, 5, 8)), "bfloat16")
    expected, _ = _train_step(theirs, x)
    y, _ = _train_step(ours, x)
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(
        tf.cast(y, "float32"), tf.cast(expected, "float32"), atol=5e-2
    )
    np.testing.assert_allclose(ours.moving_mean, theirs.moving_mean, atol=1e-3)


def test_the_fused_kernel_is_what_runs_in_training_only():
    _, ours = _pair()

    def ops(training):
        function = tf.function(lambda x: ours(x, training=training))
        graph = function.get_concrete_function(
            tf.TensorSpec((None, 6, 5, 8), "float32")
        ).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in ops(True)
    assert "FusedBatchNormV3" not in ops(False)


def test_config_and_weight_files_are_keras_batch_normalizations(tmp_path):
    _, ours = _pair()
    config = ours.get_config()
    assert config == keras.layers.BatchNormalization.from_config(config).get_config()
    # The same class name keys its variables in weight files, so files
    # written with Keras' layer load into ours.
    inputs = keras.Input((6, 5, 8))
    theirs_model = keras.Model(
        inputs, keras.layers.BatchNormalization(name="bn")(inputs)
    )
    theirs_model.layers[1].set_weights(ours.get_weights())
    path = str(tmp_path / "bn.weights.h5")
    theirs_model.save_weights(path)
    inputs = keras.Input((6, 5, 8))
    ours_model = keras.Model(
        inputs, residual_layers.BatchNormalization(name="bn")(inputs)
    )
    ours_model.load_weights(path)
    for mine, yours in zip(ours_model.get_weights(), theirs_model.get_weights()):
        np.testing.assert_array_equal(mine, yours)


def test_fit_runs_the_fused_and_grouped_kernels_as_train_on_batch_does():
    """Issue 30: a ResNeXt's training step through `fit` (NumPy arrays,
    `tf.data` with an unknown batch size) runs the same kernels as through
    `train_on_batch`, read from TensorFlow's profiler: the fused BatchNorm
    forward and backward, native (grouped) convolutions, and no XLA."""
    from benchmarks.profile_training import profile_tensorflow
    from keras_residual.models.resnext import resnext_spec

    # A spec, not a registered name: the zoo stays as other tests read it.
    tiny = resnext_spec((1, 1, 1, 1), cardinality=4, base_width=4)
    case = {"size": 32, "batch": 4, "classes": 10}
    kernels = {}
    for path in ("fit", "train_on_batch"):
        _, totals = profile_tensorflow(tiny, case, 2, "float32", path)
        # oneDNN (on by default on x86) renames kernels `_MklNative<Op>`.
        ops = {re.sub(r"^_Mkl(Native)?", "", op) for op in totals}
        kernels[path] = {op for op in ops if "Conv" in op or "BatchNorm" in op}
        assert {"FusedBatchNormV3", "FusedBatchNormGradV3", "Conv2D"} <= ops, path
        assert not any("Xla" in op for op in ops), path
    assert kernels["fit"] == kernels["train_on_batch"]
