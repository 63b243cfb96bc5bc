"""Malformed `.tflite` files are refused before TFLite's interpreter reads
them (it trusts the flatbuffer and crashes the process on a bad one), and a
model that computes NaN is an error, not an answer."""

import os

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.serving.model_card import card_path
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.tflite_check import check_tflite_file
from tests.conftest import run_python

BIAS = np.array([0.125, -0.375, 0.8125], "float32")  # bytes found in the file


def _cardless_tflite(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(3, activation="softmax", name="predictions"),
        ],
        name="small",
    )
    dense = model.get_layer("predictions")
    dense.set_weights([dense.get_weights()[0], BIAS])
    path = kr.export(model, str(tmp_path / "m.tflite"), "tflite", preprocessing="tf")
    os.remove(card_path(path))  # what the card's sha256 would catch first
    return path


def test_truncated_and_foreign_files_are_refused_by_name(tmp_path):
    path = _cardless_tflite(tmp_path)
    check_tflite_file(path)
    data = open(path, "rb").read()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(data[:64])
    with pytest.raises(ValueError, match=r"truncated\.tflite.*not a well-formed"):
        load_predictor(str(truncated))
    foreign = tmp_path / "foreign.tflite"
    foreign.write_bytes(data[:4] + b"ONNX" + data[8:])
    with pytest.raises(ValueError, match="lacks the TFL3 identifier"):
        load_predictor(str(foreign))
    fifo = tmp_path / "fifo.tflite"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        check_tflite_file(str(fifo))


def test_nan_outputs_are_an_error(tmp_path):
    path = _cardless_tflite(tmp_path)
    data = bytearray(open(path, "rb").read())
    at = bytes(data).find(BIAS.tobytes())
    assert at > 0  # the classifier's bias, stored as it is
    data[at : at + 4] = np.array([np.nan], "float32").tobytes()
    poisoned = tmp_path / "nan.tflite"
    poisoned.write_bytes(bytes(data))
    predictor = load_predictor(str(poisoned))  # well-formed: it loads
    with pytest.raises(ValueError, match="non-finite probabilities"):
        predictor.predict_images(np.zeros((2, 16, 16, 1), "uint8"))


FUZZ = """
import sys
import numpy as np
from keras_residual.serving.predictor import load_predictor
base = open(sys.argv[1], "rb").read()
outcomes = {"refused": 0, "served": 0}
for seed in range(int(sys.argv[2])):
    rng = np.random.default_rng(seed)
    data = bytearray(base)
    if seed % 10 == 0:
        data = data[: rng.integers(8, len(data))]
    else:
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, len(data))] = rng.integers(0, 256)
    path = sys.argv[1] + ".mutated.tflite"
    open(path, "wb").write(bytes(data))
    try:
        out = load_predictor(path).predict_images(np.zeros((1, 16, 16, 1), "uint8"))
        assert np.isfinite(out).all(), seed
        outcomes["served"] += 1
    except ValueError:
        outcomes["refused"] += 1
print(outcomes)
"""


@pytest.mark.xdist_group("subprocess")
def test_mutated_files_are_refused_or_served_but_never_crash(tmp_path):
    """60 seeded byte mutations and truncations, in a real subprocess: without
    the check, about 4 in 10 of them crash the interpreter (SIGSEGV/SIGBUS)."""
    path = _cardless_tflite(tmp_path)
    run = run_python(FUZZ, path, 60, timeout=300)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert "'refused'" in run.stdout and "'served'" in run.stdout
