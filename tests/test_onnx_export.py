"""ONNX exports run by ONNX Runtime: the shipped digits models (residual,
highway, dense) against their Keras model on the real test digits, the
Predictor and evaluation on `.onnx` files, and what is refused.

Expected values come from the Keras model (`model.predict` on the same
preprocessed digits), never from the export under test.
"""

import os
import sys

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual.serving import evaluate_export
from keras_residual.serving.model_card import card_path
from keras_residual.serving.model_card import read_model_card
from keras_residual.serving.predictor import load_predictor
from tests.conftest import tiny_resnet


@pytest.fixture(scope="module")
def digits():
    """The 359 test digits as uint8 pixels and labels."""
    from keras_residual.data import load_digits_arrays

    images, labels = load_digits_arrays()["test"]
    return np.round(images).astype("uint8"), labels


def _session(path):
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.mark.xdist_group("onnx_export")
@pytest.mark.parametrize(
    "name",
    # DenseNet-BC-100 is the large model of the three (100 layers): slow tier.
    ["ResNet20", "HighwayNet20", pytest.param("DenseNetBC100", marks=pytest.mark.slow)],
)
def test_onnx_runtime_matches_keras_within_1e4_on_real_digits(name, digits, tmp_path):
    model = kr.build(name, weights="digits")
    pixels, labels = digits
    expected = model.predict(pixels.astype("float32") / 127.5 - 1.0, verbose=0)
    path = kr.export(model, str(tmp_path / "m.onnx"), "onnx")
    session = _session(path)
    (images,) = session.get_inputs()
    assert (images.name, images.type) == ("images", "tensor(uint8)")
    assert images.shape == ["batch", "height", "width", 1]
    names = [output.name for output in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"images": pixels})))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-4)
    top = np.argsort(-expected, axis=-1)[:, :5]
    agree = outputs["top_k_classes"] == top
    assert agree[:, 0].all() and agree.mean() > 0.99
    assert np.mean(expected.argmax(-1) == labels) > 0.9  # the model is trained
    # Any image size: resized inside, like the SavedModel's serving_default.
    big = tf.image.resize(pixels[:8], (40, 40), method="nearest").numpy()
    resized = session.run(["probabilities"], {"images": big})[0]
    inputs = tf.image.resize(big.astype("float32"), (32, 32)).numpy() / 127.5 - 1.0
    np.testing.assert_allclose(resized, model.predict(inputs, verbose=0), atol=1e-4)


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.xdist_group("onnx_export")
def test_predictor_and_evaluation_run_onnx_files(digits, tmp_path):
    model = kr.ResNet20(weights="digits")
    pixels, labels = digits
    floats = pixels.astype("float32") / 127.5 - 1.0
    expected = model.predict(floats, verbose=0)
    path = kr.export(
        model, str(tmp_path / "m.onnx"), "onnx", class_names=list("0123456789")
    )
    card = read_model_card(path)
    assert card["format"] == "onnx" and card["onnx"]["opset"] >= 13
    predictor = load_predictor(path)
    assert (predictor.preprocessing, predictor.channels) == ("tf", 1)
    np.testing.assert_allclose(predictor.predict_images(pixels), expected, atol=1e-4)
    with pytest.raises(ValueError, match="embeds its preprocessing"):
        predictor.predict_preprocessed(floats)
    keras_accuracy = float(np.mean(expected.argmax(-1) == labels))
    result = evaluate_export(path, verbose=0)
    assert result["signature"] == "serving_default"
    assert result["accuracy"] == pytest.approx(keras_accuracy, abs=1.5 / 359)
    # The float variant takes the preprocessed input, like serve_preprocessed.
    float_path = kr.export(
        model, str(tmp_path / "f.onnx"), "onnx", preprocessing="none"
    )
    session = _session(float_path)
    assert session.get_inputs()[0].type == "tensor(float)"
    (probabilities,) = session.run(["probabilities"], {"images": floats})
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    np.testing.assert_allclose(
        load_predictor(float_path).predict_preprocessed(floats), expected, atol=1e-4
    )


def test_onnx_exports_are_refused_clearly(tmp_path, monkeypatch):
    model = tiny_resnet(input_shape=(32, 32, 1), classes=10, preprocessing="tf")
    with pytest.raises(ValueError, match=r"must end in '\.onnx'"):
        kr.export(model, str(tmp_path / "m.tflite"), "onnx")
    with pytest.raises(ValueError, match=r"`quantize='int8'` applies to format"):
        kr.export(model, str(tmp_path / "m.onnx"), "onnx", quantize="int8")
    # Without tf2onnx: an ImportError that says what to install.
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match=r"tf2onnx.*keras-residual\[onnx\]"):
        kr.export(model, str(tmp_path / "m.onnx"), "onnx")
    assert not os.listdir(tmp_path)  # nothing half-written
    monkeypatch.undo()
    path = kr.export(model, str(tmp_path / "m.onnx"), "onnx")
    # A file changed after export, or one that is not ONNX, is refused.
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_predictor(path)
    os.remove(card_path(path))
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        (tmp_path / "junk.onnx").write_bytes(b"not a model")
        load_predictor(str(tmp_path / "junk.onnx"))
