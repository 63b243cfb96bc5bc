"""Per-block gradient norms."""

import numpy as np
import tensorflow as tf

import keras_residual as kr
from keras_residual.analysis.diagnostics import block_gradient_norms


def test_block_gradient_norms_partition_the_full_gradient():
    model = kr.build("ResNet20", input_shape=(32, 32, 1), classes=10)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    labels = rng.integers(0, 10, 8)
    norms = block_gradient_norms(model, images, labels)
    blocks = [f"conv{s}_block{j}" for s in (2, 3, 4) for j in (1, 2, 3)]
    assert list(norms) == ["stem", *blocks, "head"]
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.sparse_categorical_crossentropy(
            labels, model(images, training=True)
        )
        loss = tf.reduce_mean(loss)
    full = tape.gradient(loss, model.trainable_variables)
    total = np.sqrt(sum(float(tf.reduce_sum(g * g)) for g in full))
    assert abs(np.sqrt(sum(v * v for v in norms.values())) - total) < 1e-4 * total
    head = model.get_layer("predictions").trainable_variables
    head_norm = np.sqrt(
        sum(
            float(tf.reduce_sum(g * g))
            for g, v in zip(full, model.trainable_variables)
            if any(v is h for h in head)
        )
    )
    assert abs(norms["head"] - head_norm) < 1e-4 * head_norm


def test_a_linear_classifier_counts_as_logits():
    """`classifier_activation="linear"` outputs logits, like None: the
    default `from_logits` must agree with passing it explicitly."""
    model = kr.build(
        "ResNet20", input_shape=(32, 32, 1), classes=10, classifier_activation="linear"
    )
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    labels = rng.integers(0, 10, 4)
    default = block_gradient_norms(model, images, labels)
    as_logits = block_gradient_norms(model, images, labels, from_logits=True)
    as_probabilities = block_gradient_norms(model, images, labels, from_logits=False)
    assert default == as_logits
    assert default != as_probabilities
