"""preprocess_input and decode_predictions follow keras.applications."""

import hashlib
import json

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.weights import WeightsFile
from tests.test_weights import keras_home, server  # noqa: F401  (fixtures)


def images():
    return np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")


@pytest.mark.parametrize("ours, theirs", [
    (kr.models.resnet.preprocess_input, keras.applications.resnet.preprocess_input),
    (kr.models.resnet_v2.preprocess_input,
     keras.applications.resnet_v2.preprocess_input),
])
def test_family_preprocessing_equals_keras_applications(ours, theirs):
    np.testing.assert_allclose(np.array(ours(images())),
                               np.array(theirs(images())), rtol=1e-6)


def test_preprocess_for_any_registered_model_and_bad_mode():
    x = kr.preprocess_for("ResNet20")(images())
    np.testing.assert_allclose(np.array(x), images() / 127.5 - 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"`mode`.*'cafe'.*Did you mean 'caffe'"):
        kr.preprocess_input(images(), mode="cafe")


def test_decode_predictions_with_class_names():
    preds = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    decoded = kr.decode_predictions(preds, top=2, class_names=["a", "b", "c"])
    assert decoded == [[("1", "b", 0.7), ("2", "c", 0.2)],
                       [("0", "a", 0.5), ("2", "c", 0.3)]]
    with pytest.raises(ValueError, match=r"shape \(samples, 3\)"):
        kr.decode_predictions(np.ones((2, 4)), class_names=["a", "b", "c"])


def test_imagenet_decode_downloads_the_class_index_once(
    server, keras_home, monkeypatch  # noqa: F811
):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = server["root"] / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(kr.preprocessing, "IMAGENET_CLASS_INDEX", WeightsFile(
        url=server["url"] + path.name,
        file_hash=hashlib.md5(path.read_bytes()).hexdigest()))
    preds = np.zeros((1, 1000))
    preds[0, 417] = 0.9
    preds[0, 3] = 0.1
    decoded = kr.decode_predictions(preds, top=2)
    assert decoded == [[("n00000417", "class_417", 0.9), ("n00000003", "class_3", 0.1)]]
    kr.decode_predictions(preds)
    assert len(server["requests"]) == 1
