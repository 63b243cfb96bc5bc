"""Shared test helpers. Tests run under the TensorFlow backend by default and
again with KERAS_BACKEND=jax (see README)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_policy():
    """Every test starts and ends in float32."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_images(n, size, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(
        -1, 1, (n, size, size, channels)
    ).astype("float32")
