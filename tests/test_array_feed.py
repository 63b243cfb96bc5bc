"""`fit` on NumPy arrays: on TensorFlow a ResidualModel feeds them through a
dataset without tf.data's autotuning (core/array_feed.py) and must train
exactly as Keras' own array path does."""

import keras
import numpy as np
import pytest

from keras_residual.core.array_feed import steady_dataset
from keras_residual.core.array_feed import steady_fit_arguments
from tests.conftest import digits_resnet
from tests.conftest import small_digits


def twin_models():
    """A digits ResNet and an exact copy, compiled alike."""
    keras.utils.set_random_seed(0)
    ours, twin = digits_resnet(), digits_resnet()
    twin.set_weights(ours.get_weights())
    for model in (ours, twin):
        model.compile(
            keras.optimizers.SGD(0.05, momentum=0.9),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return ours, twin


@pytest.mark.parametrize(
    "extra",
    [
        {"validation_split": 0.2, "class_weight": {c: 1 + c / 10 for c in range(10)}},
        {"validation_data": "first ten", "sample_weight": "ramp"},
    ],
    ids=["split-class-weight", "validation-data-sample-weight"],
)
def test_fit_on_arrays_trains_exactly_as_keras_own_array_path(extra):
    images, labels = small_digits(train=50, test=8)["train"]
    arguments = dict(batch_size=16, epochs=2, shuffle=False, verbose=0, **extra)
    if extra.get("validation_data") == "first ten":
        arguments["validation_data"] = (images[:10], labels[:10])
    if extra.get("sample_weight") == "ramp":
        arguments["sample_weight"] = np.linspace(0.5, 1.5, 50).astype("float32")
    ours, twin = twin_models()
    history = ours.fit(images, labels, **arguments).history
    # keras.Model.fit called directly skips the override: Keras' own path.
    expected = keras.Model.fit(twin, images, labels, **arguments).history
    assert set(history) == set(expected) and "val_loss" in history
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5)
    for got, want in zip(ours.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_steady_dataset_never_autotunes_and_reshuffles_every_pass():
    images = np.arange(40, dtype="float32").reshape(40, 1)
    dataset = steady_dataset((images, images[:, 0], None), 16, shuffle=True)
    assert dataset.options().autotune.enabled is False
    passes = [np.concatenate([x.numpy()[:, 0] for x, _ in dataset]) for _ in range(3)]
    assert [len(batch) for batch, _ in dataset] == [16, 16, 8]
    for order in passes:
        assert sorted(order) == list(range(40))
    assert len({tuple(order) for order in passes}) == 3
    wide = steady_dataset((images.astype("float64"), None, None), 16, shuffle=False)
    assert wide.element_spec[0].dtype == keras.config.floatx()  # as Keras casts
    in_order = steady_dataset((images, None, None), 16, shuffle=False)
    assert np.concatenate([x.numpy()[:, 0] for (x,) in in_order]).tolist() == list(
        range(40)
    )


@pytest.mark.parametrize(
    "change",
    [{"steps_per_epoch": 2}, {"shuffle": "batch"}, {"y": "short"}, {"x": "list"}],
    ids=["steps", "batch-shuffle", "lengths-differ", "not-an-array"],
)
def test_what_keras_must_handle_itself_is_left_as_given(change):
    images, labels = small_digits(train=20, test=8)["train"]
    arguments = {"x": images, "y": labels, "batch_size": 8, **change}
    if change.get("y") == "short":
        arguments["y"] = labels[:10]
    if change.get("x") == "list":
        arguments["x"] = images.tolist()
    assert steady_fit_arguments(arguments) is arguments


def test_a_validation_split_that_leaves_nothing_is_refused_by_name():
    images, labels = small_digits(train=20, test=8)["train"]
    arguments = {"x": images, "y": labels, "validation_split": 0.99}
    with pytest.raises(ValueError, match="validation_split=0.99"):
        steady_fit_arguments(arguments)


@pytest.mark.jax
def test_other_backends_keep_keras_array_path_and_still_train():
    images, labels = small_digits(train=32, test=8)["train"]
    arguments = {"x": images, "y": labels, "batch_size": 8}
    if keras.backend.backend() != "tensorflow":
        assert steady_fit_arguments(arguments) is arguments
    model = digits_resnet()
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.evaluate(images, labels, verbose=0)
    model.fit(images, labels, batch_size=8, epochs=3, verbose=0)
    assert model.evaluate(images, labels, verbose=0) < before
