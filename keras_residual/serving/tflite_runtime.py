"""The TFLite runtime that runs a `.tflite` file: LiteRT (`ai-edge-litert`,
the `serve` extra) when it is installed, which needs no TensorFlow, else
TensorFlow's own `tf.lite.Interpreter`; and running a signature on float or
uint8 arrays."""

import importlib.util
import warnings

import numpy as np

LITERT = "ai_edge_litert"


def has_litert():
    """Whether LiteRT is installed (looked up without importing it)."""
    return importlib.util.find_spec(LITERT) is not None


def tflite_schema():
    """The TFLite flatbuffer schema's Python module, from LiteRT or TensorFlow."""
    if has_litert():
        from ai_edge_litert import schema_py_generated as schema
    else:
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def tflite_interpreter(**source):
    """A TFLite interpreter, LiteRT's when installed, else TensorFlow's.

    Args:
        **source: `model_path=` (str) or `model_content=` (bytes).
    """
    if has_litert():
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(**source)
    import tensorflow as tf  # lazy: only without LiteRT

    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(**source)


def run_signature(runner, **inputs):
    """Runs a TFLite signature runner on float or uint8 arrays, quantizing
    inputs and dequantizing outputs that the model keeps as uint8.

    Args:
        runner: a TFLite `SignatureRunner`.
        **inputs: arrays by input name.

    Returns:
        A dict of float32 arrays (integer outputs such as classes as they are).
    """
    details = runner.get_input_details()
    feed = {}
    for name, value in inputs.items():
        dtype = details[name]["dtype"]
        scale, zero_point = details[name]["quantization"]
        if scale and np.asarray(value).dtype != dtype:
            value = np.round(np.asarray(value, "float32") / scale + zero_point)
            value = np.clip(value, np.iinfo(dtype).min, np.iinfo(dtype).max)
        feed[name] = np.asarray(value).astype(dtype)
    outputs = runner(**feed)
    out_details = runner.get_output_details()
    for name, value in outputs.items():
        scale, zero_point = out_details[name]["quantization"]
        if scale:
            outputs[name] = (value.astype("float32") - zero_point) * scale
    return outputs
