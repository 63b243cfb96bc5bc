"""Model cards: the JSON that travels with every export and says what the
model is, what it expects and how well it did.

A SavedModel directory holds `model_card.json`; a `.keras` or `.tflite` file
has it beside it as `<file>.model_card.json`.
"""

import datetime
import os

from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.version import __version__

MODEL_CARD = "model_card.json"
CARD_VERSION = 1
# A card is a few kilobytes; a larger file is not one.
MAX_CARD_BYTES = 16 * 1024 * 1024


def card_path(path):
    """Where the model card of an export at `path` lives.

    Args:
        path: str. A SavedModel directory or an exported file.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.join(path, MODEL_CARD)
    return path + "." + MODEL_CARD


def versions():
    """Package, Keras and TensorFlow versions and the Keras backend."""
    import keras  # lazy, as below: reading a card needs neither
    import numpy
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    return {
        "keras_residual": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
        "backend": keras.backend.backend(),
    }


def build_model_card(
    model,
    *,
    export_format,
    preprocessing,
    image_size,
    top_k,
    class_names=None,
    metrics=None,
    trained_precision="float32",
    signatures=None,
):
    """Returns the model card dict of an export.

    Args:
        model: `keras.Model`. The exported model.
        export_format: str. `"saved_model"`, `"keras"` or `"tflite"`.
        preprocessing: `Preprocessing` or None. What the serving signature
            embeds.
        image_size: tuple of int or None. `(height, width)` the model
            sees; None for an audio model.
        top_k: int. Classes per image in the `serve` outputs.
        class_names: list of str or None. Names of the classes.
        metrics: dict or None. Evaluation results, e.g. a run's
            `metrics.json`. Defaults to `None`.
        trained_precision: str. The model's dtype policy when exported.
            Defaults to `"float32"`.
        signatures: dict or None. `{name: {"inputs": ..., "outputs": ...}}`.
    """
    spec = getattr(model, "spec", None)
    from keras_residual.core.heads import is_classifier  # lazy: Keras

    classifier = is_classifier(model)
    return {
        "card_version": CARD_VERSION,
        "name": model.name,
        "format": export_format,
        "architecture": spec.to_dict() if spec is not None else None,
        "parameters": int(model.count_params()),
        "input_shape": (
            list(model.input_shape[1:])
            if image_size is None
            else [image_size[0], image_size[1], model.input_shape[-1]]
        ),
        "front_end": (
            model.front_end.get_config() if getattr(model, "front_end", None) else None
        ),
        "classes": int(model.output.shape[-1]) if classifier else None,
        "class_names": list(class_names) if class_names else None,
        "preprocessing": _preprocessing_card(preprocessing),
        "top_k": top_k if classifier else None,
        "precision": {"trained": trained_precision, "exported": "float32"},
        "signatures": signatures,
        "metrics": metrics,
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }


def read_model_card(path):
    """Returns the model card of the export at `path`, or None.

    Args:
        path: str. A SavedModel directory or an exported file.
    """
    card = card_path(path)
    if not os.path.lexists(card):
        return None
    content = read_json_file(card, "The model card", MAX_CARD_BYTES)
    if not isinstance(content, dict):
        raise ValueError(
            f"The model card {card!r} holds a JSON {type(content).__name__}; "
            "a model card is a JSON object."
        )
    return content


def _preprocessing_card(preprocessing):
    """The card's `preprocessing` entry: its recorded form (`mode`: a
    name, or the config of any other), the input dtype, and what a client
    without keras_residual needs to apply it (`config`: scale, mean, std,
    channel order, interpolation, crop fraction, layout)."""
    return {
        "mode": None if preprocessing is None else preprocessing.to_json(),
        "input_dtype": "uint8" if preprocessing else "float32",
        "resize": preprocessing.interpolation if preprocessing else None,
        "config": preprocessing.get_config() if preprocessing else None,
    }
