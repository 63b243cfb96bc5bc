"""`deterministic=True`: TensorFlow's op determinism for the run only, an
epoch-seeded training order, and the generators' states in checkpoints.
The bitwise kill-and-resume test is in test_training.py."""

import keras
import numpy as np
import pytest
from tensorflow.python.framework import config as tf_config

import keras_residual as kr
from keras_residual.data import load_data
from keras_residual.training.callbacks import EpochClock
from keras_residual.training.checkpoint_state import restore_seed_states
from keras_residual.training.checkpoint_state import seed_states
from keras_residual.training.determinism import deterministic_ops
from tests.conftest import small_digits


def _epoch_labels(bundle, epoch):
    EpochClock(bundle.epoch_clock).on_epoch_begin(epoch)
    return np.concatenate([labels.numpy() for _, labels in bundle.train])


@pytest.mark.jax
@pytest.mark.parametrize("sampler", ["shuffle", "balanced"])
def test_an_epoch_seeded_order_depends_on_the_epoch_not_on_the_epochs_served(
    sampler,
):
    bundle = load_data(
        small_digits(train=96), batch_size=32, sampler=sampler, epoch_seeded=True
    )
    size = bundle.sizes["train"]  # less the validation share
    assert int(bundle.train.cardinality()) == -(-size // 32)  # the bar's total
    for epoch in range(3):  # epochs 0-2 served first, as in a run
        _epoch_labels(bundle, epoch)
    first = _epoch_labels(bundle, 3)
    assert len(first) == size
    assert np.array_equal(_epoch_labels(bundle, 3), first)
    assert not np.array_equal(_epoch_labels(bundle, 4), first)
    # A fresh pipeline (a resumed run) serves epoch 3 as the first did.
    again = load_data(
        small_digits(train=96), batch_size=32, sampler=sampler, epoch_seeded=True
    )
    assert np.array_equal(_epoch_labels(again, 3), first)
    # Without the clock, two epochs of one pipeline differ.
    plain = load_data(small_digits(train=96), batch_size=32, sampler=sampler)
    assert plain.epoch_clock is None
    orders = [np.concatenate([y.numpy() for _, y in plain.train]) for _ in range(2)]
    assert not np.array_equal(*orders)


def test_deterministic_ops_are_on_for_the_block_only():
    assert not tf_config.is_op_determinism_enabled()
    with deterministic_ops(True):
        assert tf_config.is_op_determinism_enabled()
    assert not tf_config.is_op_determinism_enabled()
    with deterministic_ops(False):
        assert not tf_config.is_op_determinism_enabled()


def _dropout_model():
    inputs = keras.Input((4,), name="inputs")
    x = keras.layers.Dropout(0.5, seed=1, name="drop_a")(inputs)
    x = keras.layers.Dropout(0.5, seed=2, name="drop_b")(x)
    return keras.Model(inputs, x, name="dropouts")


@pytest.mark.jax
def test_generator_states_come_back_so_masks_continue_where_they_stopped():
    model = _dropout_model()
    ones = np.ones((8, 4), "float32")
    model(ones, training=True)
    saved = seed_states(model)
    assert len(saved) == 2 and saved[0] != saved[1]
    expected = keras.ops.convert_to_numpy(model(ones, training=True))
    restore_seed_states(model, saved)
    assert np.array_equal(
        keras.ops.convert_to_numpy(model(ones, training=True)), expected
    )
    # States of another model (a count or shape that does not match) are
    # left alone rather than half-applied.
    before = seed_states(model)
    restore_seed_states(model, saved[:1])
    restore_seed_states(model, [[1, 2, 3], [4, 5, 6]])
    restore_seed_states(model, {"drop_a": saved[0]})
    assert seed_states(model) == before


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.jax
def test_two_deterministic_runs_with_one_seed_end_with_equal_weights(tmp_path):
    weights = []
    for name in ("a", "b"):
        result = kr.train(
            "ResNet20",
            small_digits(train=160, validation=32),
            str(tmp_path / name),
            epochs=2,
            batch_size=32,
            precision="float32",
            deterministic=True,
            export=False,
            tensorboard=False,
            verbose=0,
            model_overrides={"depths": (1, 1, 1)},
        )
        weights.append([keras.ops.convert_to_numpy(w) for w in result.model.weights])
    assert len(weights[0]) > 20
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
