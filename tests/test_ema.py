"""The weight average (EMA): its warmed-up decay, and a run whose
validation, best checkpoint, test figures and export use it."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.training.optimizers import ScaledSGD
from keras_residual.training.optimizers import averaged_weights


def _tiny_model():
    inputs = keras.Input((4,), name="input")
    outputs = keras.layers.Dense(3, name="dense")(inputs)
    return keras.Model(inputs, outputs, name="tiny")


class _Weights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append([keras.ops.convert_to_numpy(v) for v in self.model.weights])


@pytest.mark.jax
def test_the_average_warms_up_as_tf_train_exponential_moving_average():
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.arange(16) % 3
    model = _tiny_model()
    initial = [keras.ops.convert_to_numpy(v) for v in model.weights]
    model.compile(
        optimizer=ScaledSGD(learning_rate=0.5, use_ema=True, ema_momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    steps = _Weights()  # one step per epoch: the weights after every step
    model.fit(x, y, batch_size=16, epochs=30, verbose=0, callbacks=[steps])
    average = [w.copy() for w in initial]
    for t, weights in enumerate(steps.seen):
        decay = min(0.9, (1 + t) / (10 + t))
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights)]
    final = [keras.ops.convert_to_numpy(v) for v in model.weights]
    for got, want, raw in zip(final, average, steps.seen[-1]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, raw)  # the average, not the last weights


def test_averaged_weights_swaps_in_the_average_and_back():
    model = _tiny_model()
    model.compile(
        optimizer=ScaledSGD(learning_rate=0.5, use_ema=True, ema_momentum=0.9),
        loss="mse",
    )
    x = np.ones((8, 4), "float32")
    model.fit(x, np.ones((8, 3)), epochs=3, batch_size=2, verbose=0)
    raw = [w + 1.0 for w in model.get_weights()]
    model.set_weights(raw)
    average = [
        keras.ops.convert_to_numpy(v)
        for v in model.optimizer._model_variables_moving_average
    ]
    with averaged_weights(model):
        for got, want in zip(model.get_weights(), average):
            np.testing.assert_array_equal(got, want)
    for got, want in zip(model.get_weights(), raw):
        np.testing.assert_array_equal(got, want)
    plain = _tiny_model()
    plain.compile(optimizer="sgd", loss="mse")
    before = plain.get_weights()
    with averaged_weights(plain):
        pass
    for got, want in zip(plain.get_weights(), before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.jax
def test_a_run_with_ema_validates_tests_and_exports_the_average(tmp_path, capsys):
    result = kr.train(
        "ResNet20",
        "digits",
        tmp_path / "run",
        epochs=2,
        batch_size=64,
        ema=0.95,
        model_overrides={"depths": (1, 1, 1)},
        tensorboard=False,
        verbose=0,
        recipe_overrides={"keep_best": False},
    )
    assert "Weight average (EMA, decay 0.95)" in capsys.readouterr().out
    assert result.metrics["ema"] == 0.95
    model = result.model
    optimizer = model.optimizer
    assert optimizer.use_ema
    # fit ended with the average in the model.
    for variable, average in zip(
        model.trainable_variables, optimizer._model_variables_moving_average
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(variable), keras.ops.convert_to_numpy(average)
        )
    data = kr.load_data("digits", batch_size=64)
    # The last epoch's validation figure was measured on the average.
    validation = model.evaluate(data.validation, verbose=0, return_dict=True)
    assert validation["accuracy"] == pytest.approx(
        result.history[-1]["val_accuracy"], abs=1e-6
    )
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    for a, b in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="ema"):
        kr.train(
            "ResNet20",
            "digits",
            tmp_path / "bad",
            epochs=1,
            ema=1.0,
            model_overrides={"depths": (1, 1, 1)},
            verbose=0,
        )
    assert not (tmp_path / "bad").exists()  # refused before the run starts
