"""preprocess_input and decode_predictions follow keras.applications."""

import hashlib
import json

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.weights import WeightsFile


def images():
    return np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (kr.models.resnet.preprocess_input, keras.applications.resnet.preprocess_input),
        (
            kr.models.resnet_v2.preprocess_input,
            keras.applications.resnet_v2.preprocess_input,
        ),
    ],
)
def test_family_preprocessing_equals_keras_applications(ours, theirs):
    np.testing.assert_allclose(
        np.array(ours(images())), np.array(theirs(images())), rtol=1e-6
    )


def test_preprocess_for_any_registered_model_and_bad_mode():
    x = kr.preprocess_for("ResNet20")(images())
    np.testing.assert_allclose(np.array(x), images() / 127.5 - 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"`mode`.*'cafe'.*Did you mean 'caffe'"):
        kr.preprocess_input(images(), mode="cafe")


def test_decode_predictions_with_class_names():
    preds = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    decoded = kr.decode_predictions(preds, top=2, class_names=["a", "b", "c"])
    assert decoded == [
        [("1", "b", 0.7), ("2", "c", 0.2)],
        [("0", "a", 0.5), ("2", "c", 0.3)],
    ]
    with pytest.raises(ValueError, match=r"shape \(samples, 3\)"):
        kr.decode_predictions(np.ones((2, 4)), class_names=["a", "b", "c"])


def test_imagenet_decode_downloads_the_class_index_once(
    server, keras_home, monkeypatch
):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = server["root"] / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(
        kr.models.preprocessing,
        "IMAGENET_CLASS_INDEX",
        WeightsFile(
            url=server["url"] + path.name,
            file_hash=hashlib.md5(path.read_bytes()).hexdigest(),
        ),
    )
    preds = np.zeros((1, 1000))
    preds[0, 417] = 0.9
    preds[0, 3] = 0.1
    decoded = kr.decode_predictions(preds, top=2)
    assert decoded == [[("n00000417", "class_417", 0.9), ("n00000003", "class_3", 0.1)]]
    kr.decode_predictions(preds)
    assert len(server["requests"]) == 1


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_one_preprocessing_serves_the_function_the_pipeline_and_the_server(mode):
    """`preprocess_input`, the serving signature's uint8 preprocessing and
    (for "tf") the `load_data` pipeline compute keras.applications' values."""
    import tensorflow as tf

    from keras_residual.serving.signatures import preprocess_uint8

    pixels = np.random.default_rng(3).integers(0, 256, (2, 8, 8, 3)).astype("uint8")
    expected = keras.applications.imagenet_utils.preprocess_input(
        pixels.astype("float32"), mode=mode
    )
    np.testing.assert_allclose(
        kr.preprocess_input(pixels, mode=mode), expected, rtol=1e-6
    )
    served = preprocess_uint8(tf.constant(pixels), mode, (8, 8)).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-6)
    channels_first = kr.preprocess_input(
        pixels.transpose(0, 3, 1, 2), mode=mode, data_format="channels_first"
    )
    np.testing.assert_allclose(
        np.asarray(channels_first).transpose(0, 2, 3, 1), expected, rtol=1e-6
    )
    if mode == "tf":  # the pipeline's mode; the test split is not shuffled
        floats, labels = pixels.astype("float32"), np.array([0, 1])
        data = kr.load_data(
            {"train": (floats, labels), "test": (floats, labels)},
            batch_size=2,
            augment="none",
            validation_fraction=0.0,
        )
        batch = next(iter(data.test))[0].numpy()
        np.testing.assert_allclose(batch, expected, rtol=1e-6)


def test_rgb_modes_refuse_other_channel_counts():
    """caffe and torch subtract a per-channel RGB mean: on a grey image it
    would silently broadcast to three channels."""
    grey = np.zeros((1, 4, 4, 1), "float32")
    for mode in ("caffe", "torch"):
        with pytest.raises(ValueError, match=rf"{mode!r} needs RGB images.*1 channel"):
            kr.preprocess_input(grey, mode=mode)
        with pytest.raises(ValueError, match=r"scales RGB images.*1 channel"):
            kr.load_data("digits", preprocessing=mode)
    assert kr.preprocess_input(grey, mode="tf").shape == grey.shape
