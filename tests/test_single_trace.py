"""A ResidualModel's training step is traced once on TensorFlow: the
optimizer and metrics are built from the batch's shapes before the first
trace (core/single_trace.py), and training is unchanged by it."""

import keras
import numpy as np
import pytest

from keras_residual.core.single_trace import build_before_tracing
from keras_residual.core.single_trace import is_shaped
from tests.conftest import digits_resnet
from tests.conftest import small_digits


def counting_steps(model):
    """Counts the Python calls of `model`'s train and test steps: in graph
    mode each call is one trace."""
    calls = {"train": 0, "test": 0}
    for kind in calls:
        step = getattr(model, f"{kind}_step")

        def counted(data, kind=kind, step=step):
            calls[kind] += 1
            return step(data)

        setattr(model, f"{kind}_step", counted)
    return calls


def compiled(model, optimizer=None):
    model.compile(
        optimizer or keras.optimizers.SGD(0.05, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def twins():
    """A digits ResNet and a plain `keras.Model` over an exact copy of it
    (Keras' own path: it builds the optimizer while tracing)."""
    keras.utils.set_random_seed(0)
    ours, copy = digits_resnet(), digits_resnet()
    copy.set_weights(ours.get_weights())
    plain = keras.Model(copy.inputs, copy.outputs, name="plain")
    return compiled(ours), compiled(plain)


@pytest.mark.parametrize("feed", ["arrays", "dataset"])
def test_the_first_fit_traces_the_step_once_and_trains_as_keras_does(feed):
    import tensorflow as tf

    images, labels = small_digits(train=48, test=8)["train"]
    ours, plain = twins()
    calls = counting_steps(ours)
    if feed == "dataset":
        data = {"x": tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)}
    else:
        data = {"x": images, "y": labels, "batch_size": 16, "shuffle": False}
    history = ours.fit(**data, epochs=2, verbose=0).history
    ours.evaluate(data["x"], data.get("y"), batch_size=16, verbose=0)
    assert calls == {"train": 1, "test": 1}
    assert ours.optimizer.built
    expected = plain.fit(**data, epochs=2, verbose=0).history
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5)
    for got, want in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # over ~6 s: out of the fast tier
@pytest.mark.parametrize("policy", ["mixed_float16", "float32-ema"])
def test_loss_scaling_and_weight_averaging_build_before_the_trace(policy):
    images, labels = small_digits(train=32, test=8)["train"]
    if policy == "mixed_float16":
        keras.config.set_dtype_policy(policy)
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.05))
    else:
        optimizer = keras.optimizers.SGD(0.05, use_ema=True)
    model = compiled(digits_resnet(), optimizer)
    calls = counting_steps(model)
    model.train_on_batch(images[:16], labels[:16])
    history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0).history
    assert calls["train"] == 2  # train_on_batch's batch of 16, fit's of any size
    assert np.isfinite(history["loss"][0])
    assert int(model.optimizer.iterations.numpy()) == 3


def test_without_shapes_keras_own_path_builds_while_tracing():
    model = compiled(digits_resnet())
    assert not is_shaped(([1, 2], None, None))
    assert not build_before_tracing(model, data_batch=([1, 2], None, None))
    assert not build_before_tracing(model, iterator=object())
    assert not model.optimizer.built
    metric_variables = len(model.metrics_variables)
    images, labels = small_digits(train=16, test=8)["train"]
    assert build_before_tracing(model, data_batch=(images, labels, None))
    assert model.optimizer.built
    assert len(model.metrics_variables) > metric_variables  # accuracy's


@pytest.mark.jax
def test_on_jax_nothing_is_built_ahead_and_fit_trains():
    images, labels = small_digits(train=32, test=8)["train"]
    model = compiled(digits_resnet())
    built = build_before_tracing(model, data_batch=(images, labels, None))
    assert built is (keras.backend.backend() == "tensorflow")
    history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
