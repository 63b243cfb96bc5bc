"""Seeded fuzzing of the builders and `load_data` (a few seconds each):
random combinations of good and bad arguments either work or fail with a
`ValueError`/`TypeError` that names one of the arguments given."""

import time

import numpy as np
import pytest

import keras_residual as kr

BUDGET_SECONDS = 4.0

BUILD_CHOICES = {
    "model": ["ResNet20", "HighwayNet20", "PlainNet20", "ResNet2O", "", 20, None],
    "include_top": [True, False, "yes"],
    "input_shape": [None, (32, 32, 3), (32, 32, 1), (8, 8, 3), (32, 32), "32"],
    "pooling": [None, "avg", "max", "avgg", 3],
    "classes": [10, 3, 1, 0, -2, 2.5, "10"],
    "classifier_activation": ["softmax", None, "sigmoid", "softmaxx", 5],
    "weights": [None, "digits", "imagenet", "imagnet", 3],
    "depths": [None, (1, 1, 1), (1, 1), (0, 1, 1), ("a", 1, 1), 3],
    "width_multiplier": [None, 0.5, 0.0, -1.0, "x"],
    "drop_path_rate": [None, 0.1, 1.5, "high"],
}
DATA_CHOICES = {
    "batch_size": [8, 0, -1, "8", 2.5],
    "image_size": [None, 16, (16, 16), (0, 16), "big", (16,)],
    "augment": ["auto", "none", "flip", "spin"],
    "validation_fraction": [0.1, 0.0, -0.1, 1.5, "half"],
    "label_mode": ["sparse", "categorical", "onehot"],
    "mixup_alpha": [0.0, 0.2, -1.0],
    "preprocessing": ["tf", "torch", "caffee"],
}


def draw(rng, choices):
    drawn = {}
    for name, values in choices.items():
        if rng.random() < 0.5:
            drawn[name] = values[rng.integers(len(values))]
    return drawn


def arrays(rng):
    """Good or bad (images, labels) pairs."""
    kind = rng.integers(6)
    images = rng.uniform(0, 255, (40, 16, 16, 1)).astype("float32")
    labels = rng.integers(0, 3, 40)
    if kind == 1:
        images[3, 2, 2] = np.nan
    elif kind == 2:
        labels = labels.astype(str)
    elif kind == 3:
        images, labels = images[:0], labels[:0]
    elif kind == 4:
        labels = labels[:-1]
    elif kind == 5:
        images = images[..., 0, 0]
    return images, labels


def assert_named(error, names):
    message = str(error)
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    assert "in user code" not in message, message  # a TF traceback leaked
    assert any(name in message for name in names), (names, message)


def test_random_build_arguments_fail_only_with_named_errors():
    rng = np.random.default_rng(2026)
    started, draws, failures = time.perf_counter(), 0, 0
    while time.perf_counter() - started < BUDGET_SECONDS:
        arguments = draw(rng, BUILD_CHOICES)
        model = arguments.pop("model", "ResNet20")
        overrides = {k: v for k, v in arguments.items() if v is not None}
        draws += 1
        try:
            kr.build(model, **overrides)
        except Exception as error:  # noqa: BLE001 (the assertion is the test)
            failures += 1
            names = [*overrides, "model", "spec", "stage", "stem"]
            names += [n.replace("_", " ") for n in overrides]
            assert_named(error, names)
    assert draws >= 10 and 0 < failures < draws


def test_random_load_data_arguments_fail_only_with_named_errors():
    rng = np.random.default_rng(7)
    started, draws, failures = time.perf_counter(), 0, 0
    while time.perf_counter() - started < BUDGET_SECONDS:
        arguments = draw(rng, DATA_CHOICES)
        draws += 1
        try:
            kr.load_data(arrays(rng), **arguments)
        except Exception as error:  # noqa: BLE001 (the assertion is the test)
            failures += 1
            assert_named(
                error, [*arguments, "images", "labels", "Split", "dataset", "classes"]
            )
    assert draws >= 10 and 0 < failures < draws


@pytest.mark.parametrize("bad", [object(), 3.5, b"digits"])
def test_load_data_refuses_datasets_of_other_types(bad):
    with pytest.raises(TypeError, match="dataset"):
        kr.load_data(bad)
