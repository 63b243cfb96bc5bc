"""TFLite post-training quantization: int8 (calibrated), dynamic and
float16 exports of the shipped digits ResNet20, their model cards, and
the arguments refused."""

import numpy as np
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual.serving.model_card import read_model_card
from keras_residual.serving.predictor import load_predictor


@pytest.fixture(scope="module")
def digits():
    return kr.load_data("digits", augment="none")


@pytest.fixture(scope="module")
def model():
    return kr.ResNet20(weights="digits")


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.xdist_group("quantized_export")
def test_int8_export_is_smaller_keeps_accuracy_and_serves_uint8(
    tmp_path, digits, model
):
    float_path = kr.export(
        model, str(tmp_path / "float.tflite"), "tflite", representative_data=digits
    )
    int8_path = kr.export(
        model,
        str(tmp_path / "int8.tflite"),
        "tflite",
        quantize="int8",
        representative_data=digits,
    )
    float_card = read_model_card(float_path)["quantization"]
    int8_card = read_model_card(int8_path)["quantization"]
    assert (float_card["mode"], int8_card["mode"]) == ("float32", "int8")
    assert int8_card["size_bytes"] < float_card["size_bytes"] / 2.5
    assert int8_card["test_accuracy"] > float_card["test_accuracy"] - 0.02
    assert float_card["test_accuracy"] > 0.95
    images, _ = next(iter(digits.test.unbatch().batch(32)))
    pixels = np.clip(np.round((images.numpy() + 1) * 127.5), 0, 255).astype("uint8")
    served = load_predictor(int8_path).predict_images(pixels)
    expected = model.predict(images.numpy(), verbose=0)
    agreement = np.mean(served.argmax(-1) == expected.argmax(-1))
    assert agreement >= 0.9
    # Integer end to end: uint8 images in, uint8 probabilities out (with
    # the scale and zero point a client dequantizes with); serving_default
    # is the first subgraph.
    interpreter = tf.lite.Interpreter(model_path=int8_path)
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    runner = interpreter.get_signature_runner("serving_default")
    outputs = runner.get_output_details()
    assert outputs["probabilities"]["dtype"] == np.uint8
    scale, zero_point = outputs["probabilities"]["quantization"]
    raw = runner(images=pixels[:4])["probabilities"].astype("float32")
    np.testing.assert_allclose((raw - zero_point) * scale, served[:4], atol=1e-6)
    np.testing.assert_allclose(served.sum(-1), 1.0, atol=0.05)
    preprocessed = interpreter.get_signature_runner("serve_preprocessed")
    assert preprocessed.get_input_details()["inputs"]["dtype"] == np.uint8


@pytest.mark.slow  # over ~6 s: out of the fast tier
@pytest.mark.xdist_group("quantized_export")
def test_dynamic_and_float16_exports_need_no_data(tmp_path, model):
    sizes = {}
    for mode in ("dynamic", "float16"):
        path = kr.export(
            model, str(tmp_path / f"{mode}.tflite"), "tflite", quantize=mode
        )
        card = read_model_card(path)["quantization"]
        assert card["mode"] == mode and "test_accuracy" not in card
        sizes[mode] = card["size_bytes"]
    assert sizes["dynamic"] < sizes["float16"]


def test_bad_quantization_arguments_are_refused_before_any_file(tmp_path, model):
    with pytest.raises(ValueError, match=r"`quantize='int8'` applies to format"):
        kr.export(model, str(tmp_path / "m.keras"), "keras", quantize="int8")
    with pytest.raises(ValueError, match="needs `representative_data`"):
        kr.export(model, str(tmp_path / "a.tflite"), "tflite", quantize="int8")
    with pytest.raises(ValueError, match=r"`quantize`.*'int4'"):
        kr.export(model, str(tmp_path / "b.tflite"), "tflite", quantize="int4")
    wrong = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(
        ValueError, match=r"input shape \(32, 32, 1\).*\(4, 28, 28, 1\)"
    ):
        kr.export(
            model,
            str(tmp_path / "c.tflite"),
            "tflite",
            quantize="int8",
            representative_data=wrong,
        )
    with pytest.raises(ValueError, match="`representative_data` is empty"):
        kr.export(
            model,
            str(tmp_path / "d.tflite"),
            "tflite",
            quantize="int8",
            representative_data=np.zeros((0, 32, 32, 1), "float32"),
        )
    with pytest.raises(ValueError, match="preprocessed float images"):
        kr.export(
            model,
            str(tmp_path / "e.tflite"),
            "tflite",
            quantize="int8",
            representative_data=np.zeros((4, 32, 32, 1), "uint8"),
        )
    assert list(tmp_path.iterdir()) == []
