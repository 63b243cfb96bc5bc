"""ONNX conversion of the serving graph, for ONNX Runtime and other clients
without TensorFlow.

The `.onnx` file holds the SavedModel's `serving_default` graph, converted
by tf2onnx: `images` (uint8 of any size, resized and preprocessed inside,
or the model's own float input for an export with `preprocessing="none"`) ->
`probabilities`, `top_k_classes`, `top_k_scores` (or `features`). An ONNX
graph has one entry point, so the float `serve_preprocessed` variant is
the export with `preprocessing="none"`.
"""

import importlib
import json
import tempfile

from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.utils.validation import first_line

# ONNX Runtime has run opset 17 since 1.13.
ONNX_OPSET = 17
ONNX_INSTALL = "pip install 'keras-residual[onnx]'"
# What each optional module is for, in the ImportError that names it.
_PURPOSE = {
    "tf2onnx": "to write an .onnx export",
    "onnx": "to write an .onnx export",
    "onnxruntime": "to run an .onnx export",
}


def require(module):
    """Imports an optional ONNX module, or says what to install.

    Args:
        module: str. `"tf2onnx"`, `"onnx"` or `"onnxruntime"`.

    Raises:
        ImportError: the module is missing or cannot be imported (Keras'
            own ONNX export reports a missing tf2onnx as a misleading
            `cannot import name 'AttributeProto'`).
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{module} is needed {_PURPOSE[module]} and could not be imported "
            f"({error}). Install it with `{ONNX_INSTALL}` (tf2onnx, onnx and "
            "onnxruntime)."
        ) from None


def convert_to_onnx(archive, *, opset=ONNX_OPSET, metadata=None):
    """Converts a serving archive's `serving_default` to an ONNX model.

    Args:
        archive: `keras.export.ExportArchive`. From `signatures.build_archive`.
        opset: int. ONNX opset. Defaults to `ONNX_OPSET`.
        metadata: dict or None. String entries for the model's
            `metadata_props` (values that are not strings are JSON-encoded).

    Returns:
        The serialized ONNX model, bytes.

    Raises:
        ValueError: tf2onnx could not convert the graph.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    require("onnx")
    tf2onnx = require("tf2onnx")
    with tempfile.TemporaryDirectory(prefix="keras-residual-onnx-") as tmp:
        archive.write_out(tmp, verbose=False)
        loaded = tf.saved_model.load(tmp)
        signature = loaded.signatures[SERVE_SIGNATURE]
        ((name, spec),) = signature.structured_input_signature[1].items()
        spec = tf.TensorSpec(spec.shape, spec.dtype, name=name)  # images, audio
        try:
            proto, _ = tf2onnx.convert.from_function(
                getattr(loaded, SERVE_SIGNATURE), input_signature=[spec], opset=opset
            )
        except Exception as error:  # tf2onnx raises many types
            raise ValueError(
                f"ONNX conversion failed ({type(error).__name__}: "
                f"{first_line(error, 300)}). Export format "
                "'saved_model' still works."
            ) from error
    _name_dimensions(proto)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)
    return proto.SerializeToString()


def _name_dimensions(proto):
    """Names tf2onnx's anonymous dynamic dimensions (`unk__12`): `batch`
    first, then `height` and `width` of a 4-D input."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        names = ["batch", "height", "width"] if len(dims) == 4 else ["batch"]
        for dim, name in zip(dims, names):
            if dim.dim_param:
                dim.dim_param = name
