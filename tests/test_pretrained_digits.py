"""`weights="digits"`: the reference models shipped in the package, their
SavedModels in `saved_models/`, and the script that reproduces them."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual.weights import DIGITS_WEIGHTS
from keras_residual.weights import WeightsFile
from keras_residual.weights import get_weights_entry
from keras_residual.weights import save_legacy_weights
from keras_residual.weights import unregister_weights
from tests.conftest import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_MODELS = ("ResNet20", "HighwayNet20", "DenseNetBC100")


def test_every_reference_model_is_shipped_and_registered():
    assert set(DIGITS_WEIGHTS) == set(REFERENCE_MODELS)
    for name, entry in DIGITS_WEIGHTS.items():
        assert "digits" in kr.list_weights(name)
        weights = os.path.join(
            ROOT, "keras_residual", "weights", "pretrained", entry["file"]
        )
        assert os.path.getsize(weights) < 5e6
        saved_model = os.path.join(ROOT, entry["saved_model"])
        card = json.load(open(os.path.join(saved_model, "model_card.json")))
        assert card["classes"] == entry["classes"] == 10
        assert card["input_shape"] == [32, 32, entry["input_channels"]]


@pytest.mark.parametrize(
    "name",
    [  # DenseNet-BC-100, the large model of the three, is in the slow tier
        pytest.param(name, marks=[pytest.mark.slow] if "DenseNet" in name else [])
        for name in REFERENCE_MODELS
    ],
)
def test_digits_weights_classify_the_test_split_and_match_the_saved_model(name):
    model = getattr(kr, name)(weights="digits")
    assert model.input_shape == (None, 32, 32, 1)
    assert model.output.shape[-1] == 10
    data = kr.load_data("digits", batch_size=128, augment="none")
    images = np.concatenate([x.numpy() for x, _ in data.test])
    labels = np.concatenate([y.numpy() for _, y in data.test])
    probabilities = model.predict(images, verbose=0)
    accuracy = float((probabilities.argmax(-1) == labels).mean())
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(
        DIGITS_WEIGHTS[name]["test_accuracy"], abs=1.5 / len(labels)
    )
    served = tf.saved_model.load(
        os.path.join(ROOT, DIGITS_WEIGHTS[name]["saved_model"])
    )
    outputs = served.signatures["serve_preprocessed"](inputs=tf.constant(images[:16]))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), probabilities[:16], atol=1e-5
    )


def test_digits_weights_handle_classes_and_channels_like_imagenet():
    reference = kr.ResNet20(weights="digits")
    with pytest.warns(UserWarning, match=r"except the classifier"):
        five = kr.ResNet20(weights="digits", classes=5)
    assert five.output.shape[-1] == 5
    np.testing.assert_array_equal(
        np.asarray(five.get_layer("conv1_conv").kernel),
        np.asarray(reference.get_layer("conv1_conv").kernel),
    )
    backbone = kr.ResNet20(weights="digits", include_top=False)
    assert backbone.input_shape == (None, None, None, 1)
    np.testing.assert_array_equal(
        np.asarray(backbone.get_layer("conv4_block1_2_conv").kernel),
        np.asarray(reference.get_layer("conv4_block1_2_conv").kernel),
    )
    # Grey weights adapt to RGB inputs (timm's rule, the other way round;
    # tests/test_image_folders.py checks the outputs).
    with pytest.warns(UserWarning, match=r"grey \(1-channel\).*3 input channel"):
        rgb = kr.ResNet20(weights="digits", input_shape=(32, 32, 3))
    assert rgb.input_shape == (None, 32, 32, 3)
    with pytest.raises(ValueError, match=r"digits"):
        kr.ResNet20(weights="digit")


def test_shipped_files_use_the_legacy_layout_that_keras_reads_too(tmp_path):
    entry = get_weights_entry("ResNet20", "digits")
    ours = kr.ResNet20(weights="digits")
    theirs = kr.ResNet20(input_shape=(32, 32, 1))
    theirs.load_weights(entry.top.path)  # Keras' own legacy HDF5 reader
    for mine, keras_loaded in zip(ours.weights, theirs.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(keras_loaded))
    copy = save_legacy_weights(ours, str(tmp_path / "copy.h5"))
    again = kr.ResNet20(input_shape=(32, 32, 1), weights=copy)
    np.testing.assert_array_equal(
        np.asarray(again.weights[0]), np.asarray(ours.weights[0])
    )
    with pytest.raises(ValueError, match=r"must end in '.h5' but not"):
        save_legacy_weights(ours, str(tmp_path / "copy.weights.h5"))


def test_a_corrupt_packaged_weights_file_is_refused(tmp_path):
    entry = get_weights_entry("ResNet20", "digits")
    damaged = tmp_path / "damaged.h5"
    shutil.copy(entry.top.path, damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(os.path.getsize(damaged) // 2)
        handle.write(b"\x00" * 64)
    kr.register_weights(
        "ResNet20",
        "damaged",
        top=WeightsFile(path=str(damaged), file_hash=entry.top.file_hash),
        classes=10,
        input_channels=1,
    )
    try:
        with pytest.raises(ValueError, match=r"does not match its registered hash"):
            kr.ResNet20(weights="damaged")
    finally:
        unregister_weights("ResNet20", "damaged")


@pytest.mark.slow  # a training run and its exports
def test_reproduce_script_writes_loadable_weights_and_saved_models(tmp_path):
    """The script's `main` in this process (saved_models/README.md runs it
    as a real process)."""
    load_example("reference_models").main(
        [
            "--models", "ResNet20", "--epochs", "1", "--verbose", "0",
            "--runs-dir", str(tmp_path / "runs"),
            "--saved-models", str(tmp_path / "saved_models"),
            "--pretrained", str(tmp_path / "pretrained"),
        ]
    )  # fmt: skip
    manifest = json.load(open(tmp_path / "pretrained" / "manifest.json"))
    entry = manifest["ResNet20"]
    assert entry["epochs"] == 1 and entry["input_channels"] == 1
    weights = str(tmp_path / "pretrained" / entry["file"])
    model = kr.ResNet20(input_shape=(32, 32, 1), weights=weights)
    served = tf.saved_model.load(str(tmp_path / "saved_models" / "ResNet20-digits"))
    inputs = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    outputs = served.signatures["serve_preprocessed"](inputs=tf.constant(inputs))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), model.predict(inputs, verbose=0), atol=1e-5
    )
    assert os.path.isfile(
        tmp_path / "saved_models" / "ResNet20-digits" / "model_card.json"
    )
