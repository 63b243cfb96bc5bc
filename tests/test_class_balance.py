"""Imbalanced data: class counts, `class_weight` and the balanced sampler."""

import collections
import json

import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

import keras_residual as kr
from keras_residual.cli import build_parser
from keras_residual.cli.options import options_from_args
from keras_residual.data.balance import class_weights
from keras_residual.data.balance import count_classes


def _imbalanced(seed=0):
    labels = np.repeat([0, 1, 2], [400, 60, 20])
    images = np.random.default_rng(seed).integers(0, 255, (480, 16, 16, 1))
    return images.astype("uint8"), labels


def test_balanced_weights_are_scikit_learns():
    counts = (400, 60, 20)
    labels = np.repeat([0, 1, 2], counts)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    weights = class_weights("balanced", counts)
    np.testing.assert_allclose([weights[c] for c in range(3)], expected, rtol=1e-12)


def test_explicit_weights_and_their_errors():
    assert class_weights({2: 5.0}, (3, 3, 3)) == {0: 1.0, 1: 1.0, 2: 5.0}
    assert class_weights("0=0.5, 2=3", (3, 3, 3)) == {0: 0.5, 1: 1.0, 2: 3.0}
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\); received 3"):
        class_weights({3: 1.0}, (3, 3, 3))
    with pytest.raises(ValueError, match="class_weight\\[1\\]"):
        class_weights({1: -1.0}, (3, 3, 3))
    with pytest.raises(ValueError, match="INDEX=WEIGHT"):
        class_weights("balance", (3, 3, 3))
    with pytest.raises(ValueError, match="ints >= 0"):
        class_weights({"cat": 2.0}, (3, 3, 3))
    with pytest.raises(TypeError, match="class_weight"):
        class_weights([1.0, 2.0], (3, 3))


def test_counts_from_labels_and_from_a_dataset_agree_with_bincount():
    labels = np.random.default_rng(1).integers(0, 5, 1000)
    expected = tuple(np.bincount(labels, minlength=6))
    assert count_classes(labels, 6) == expected
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((1000, 2, 2, 1)), labels))
    assert count_classes(dataset, 6) == expected


def test_the_balanced_sampler_draws_each_class_equally_often():
    images, labels = _imbalanced()
    data = kr.load_data(
        (images, labels),
        batch_size=60,
        sampler="balanced",
        validation_fraction=0.0,
        test_fraction=0.0,
    )
    assert data.class_counts == (400, 60, 20)
    epochs = [
        np.concatenate([np.asarray(batch[1]) for batch in data.train]) for _ in range(3)
    ]
    assert all(len(epoch) == 480 for epoch in epochs)  # an epoch keeps its size
    shares = np.bincount(np.concatenate(epochs), minlength=3) / (3 * 480)
    np.testing.assert_allclose(shares, 1 / 3, atol=0.05)
    assert len({epoch.tobytes() for epoch in epochs}) == 3  # redrawn each epoch
    plain = kr.load_data(
        (images, labels), batch_size=60, validation_fraction=0.0, test_fraction=0.0
    )
    seen = np.concatenate([np.asarray(batch[1]) for batch in plain.train])
    assert collections.Counter(seen.tolist()) == {0: 400, 1: 60, 2: 20}
    with pytest.raises(ValueError, match="Did you mean 'balanced'"):
        kr.load_data((images, labels), sampler="balance")


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.jax
def test_class_weight_reaches_fit(tmp_path, capsys):
    # Every class but 3 weighs nothing: the model learns to say 3.
    weights = {c: 0.0 for c in range(10)}
    weights[3] = 1.0
    result = kr.train(
        "ResNet20",
        "digits",
        tmp_path / "run",
        epochs=2,
        batch_size=64,
        class_weight=weights,
        model_overrides={"depths": (1, 1, 1)},
        export=False,
        tensorboard=False,
        verbose=0,
    )
    data = kr.load_data("digits", batch_size=512, augment="none")
    predicted = np.concatenate(
        [np.asarray(result.model(batch[0])).argmax(-1) for batch in data.test]
    )
    assert (predicted == 3).mean() > 0.9
    counts = np.bincount(kr.data.load_digits_arrays()["train"][1], minlength=10)
    assert result.metrics["class_counts"] == {
        str(c): int(n) for c, n in enumerate(counts)
    }
    assert "class weights 0, 0, 0, 1, 0" in capsys.readouterr().out
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    assert settings["class_weight"] == {str(c): w for c, w in weights.items()}
    with pytest.raises(ValueError, match="class_weight"):
        kr.train("ResNet20", "digits", tmp_path / "bad", class_weight="0:1")
    assert not (tmp_path / "bad").exists()  # refused before the run starts


def test_the_cli_flags_set_the_balancing_options():
    args = build_parser("train").parse_args(
        [
            "train",
            "--out",
            "unused",
            "--class-weight",
            "0=1,3=2.5",
            "--sampler",
            "balanced",
            "--ema",
            "0.999",
        ]
    )
    run = options_from_args(args, kr.RunOptions)
    data = options_from_args(args, kr.DataOptions)
    assert (run.class_weight, run.ema, data.sampler) == ("0=1,3=2.5", 0.999, "balanced")
    assert class_weights(run.class_weight, (5, 5, 5, 5)) == {
        0: 1.0,
        1: 1.0,
        2: 1.0,
        3: 2.5,
    }
    defaults = build_parser("train").parse_args(["train", "--out", "unused"])
    assert options_from_args(defaults, kr.RunOptions).ema is None
    assert options_from_args(defaults, kr.DataOptions).sampler == "shuffle"


def test_a_tfds_split_is_counted_only_when_asked():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=24):
        data = kr.load_data("mnist", batch_size=8)
        assert data.class_counts is None  # no pass over the split yet
        counts = data.require_class_counts()
        labels = np.concatenate(
            [np.asarray(label).reshape(-1) for _, label in data.uncounted_train]
        )
    assert counts == tuple(np.bincount(labels, minlength=10))
    assert data.class_counts == counts and sum(counts) == len(labels) > 0
