"""The checks and defaults of `export()`'s arguments: the destination, the
image size, the preprocessing, the class names, and the signatures the
model card describes."""

import os

from keras_residual.core.heads import is_classifier
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import check_channels
from keras_residual.serving.endpoints import AUDIO_INPUT
from keras_residual.serving.endpoints import FEATURES_OUTPUT
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PREPROCESSED_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_ENDPOINTS
from keras_residual.serving.endpoints import TOP_K_CLASSES_OUTPUT
from keras_residual.serving.endpoints import TOP_K_SCORES_OUTPUT
from keras_residual.utils.deprecation import warn_once
from keras_residual.utils.validation import check_choice

FILE_SUFFIXES = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx"}


def check_destination(path, format, overwrite):
    """Refuses a destination of the wrong kind, or an existing one without
    `overwrite`.

    Args:
        path: str. The destination.
        format: str. The export format.
        overwrite: bool. Whether an existing destination may be replaced.
    """
    if format == "saved_model":
        if os.path.isfile(path):
            raise ValueError(
                f"`path` {path!r} is a file; a SavedModel is a directory. "
                "Choose a directory path, or format='keras', 'tflite' or 'onnx'."
            )
    else:
        suffix = FILE_SUFFIXES[format]
        if os.path.isdir(path):
            raise ValueError(
                f"`path` {path!r} is a directory; format={format!r} writes "
                f"one file ending in {suffix!r}."
            )
        if not path.endswith(suffix):
            raise ValueError(
                f"`path` for format={format!r} must end in {suffix!r}; "
                f"received {path!r}."
            )
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"`path` {path!r} already exists; pass overwrite=True "
            "(`--overwrite`) to replace it."
        )
    return path


def resolve_image_size(model, image_size):
    """The `(height, width)` the export resizes to: `image_size`, else the
    model's input size, else its spec's `default_size`.

    Args:
        model: `keras.Model`. The model.
        image_size: int, tuple or None. The requested size.
    """
    if len(model.inputs) != 1 or len(model.input_shape) != 4:
        raise ValueError(
            "`model` must take one batch of images (batch, height, width, "
            f"channels); its input shape is {model.input_shape}."
        )
    if image_size is None:
        image_size = tuple(model.input_shape[1:3])
        if None in image_size:
            size = getattr(getattr(model, "spec", None), "default_size", None)
            if size is None:
                raise ValueError(
                    f"`model` takes images of any size {model.input_shape}; "
                    "pass `image_size=(height, width)` for the export."
                )
            image_size = (size, size)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    image_size = tuple(image_size)
    if len(image_size) != 2 or not all(
        isinstance(s, int) and s > 0 for s in image_size
    ):
        raise ValueError(
            "`image_size` must be a positive int or (height, width); "
            f"received {image_size!r}."
        )
    fixed = tuple(model.input_shape[1:3])
    if None not in fixed and fixed != image_size:
        raise ValueError(
            f"`image_size` {image_size} differs from the model's input size {fixed}."
        )
    return image_size


def resolve_preprocessing(model, preprocessing):
    """The `Preprocessing` to embed (None for none): `"auto"` reads the
    model's own, `"none"` embeds none (`None`, its 0.1 spelling, warns).

    Args:
        model: `keras.Model`. The model.
        preprocessing: str, dict, `Preprocessing` or None. The request.
    """
    if isinstance(preprocessing, str) and preprocessing == "auto":
        preprocessing = getattr(model, "preprocessing", None)
        if preprocessing is None:
            raise ValueError(
                f"`preprocessing='auto'` reads the preprocessing the model "
                f"records, and {model.name!r} records none (it was neither "
                "built with registered weights nor trained by "
                "keras_residual.train). Pass the mode its inputs were scaled "
                "with: preprocessing='tf' ([-1, 1], what load_data and train "
                "use), 'caffe' or 'torch'; or 'none' for a signature that takes "
                "the model's own float input."
            )
        return resolve_preprocessing(model, preprocessing)
    if preprocessing is None:
        warn_once(
            ("export", "preprocessing=None"),
            "export(preprocessing=None) is deprecated: pass 'none' for a "
            "signature without embedded preprocessing (None means 'the "
            "default' elsewhere in keras_residual).",
            stacklevel=4,
        )
        preprocessing = "none"
    if isinstance(preprocessing, str):
        check_choice(
            "preprocessing", preprocessing, PREPROCESSING_MODES + ("auto", "none")
        )
        if preprocessing == "none":
            return None
    preprocessing = as_preprocessing(preprocessing)
    check_channels(preprocessing, model.input_shape[-1], "the model's inputs")
    return preprocessing


def check_class_names(model, class_names):
    """`class_names` as strings, one per class of the model, or None.

    Args:
        model: `keras.Model`. The model.
        class_names: list or None. The names; defaults to those the
            model records (`ResidualModel.class_names`).
    """
    if class_names is None:
        class_names = getattr(model, "class_names", None)
    if class_names is None:
        return None
    class_names = [str(name) for name in class_names]
    classes = model.output.shape[-1]
    if is_classifier(model) and len(class_names) != classes:
        raise ValueError(
            f"`class_names` has {len(class_names)} names; the model has "
            f"{classes} classes."
        )
    return class_names


def signature_card(model, preprocessing, image_size, top_k):
    """The model card's description of each serving signature.

    Args:
        model: `keras.Model`. The model.
        preprocessing: `Preprocessing` or None. The embedded one.
        image_size: tuple of int. `(height, width)`.
        top_k: int. Classes per image.
    """
    classifier = is_classifier(model)
    outputs = (
        {
            PROBABILITIES_OUTPUT: "float32 (batch, classes)",
            TOP_K_CLASSES_OUTPUT: f"int32 (batch, {top_k})",
            TOP_K_SCORES_OUTPUT: f"float32 (batch, {top_k})",
        }
        if classifier
        else {FEATURES_OUTPUT: "float32"}
    )
    served, model_input = _input_descriptions(model, preprocessing, image_size)
    model_output = {
        key: value
        for key, value in outputs.items()
        if key not in (TOP_K_CLASSES_OUTPUT, TOP_K_SCORES_OUTPUT)
    }
    signatures = {
        name: {"inputs": served, "outputs": outputs} for name in SERVE_ENDPOINTS
    }
    signatures[PREPROCESSED_ENDPOINT] = {
        "inputs": {PREPROCESSED_INPUT: model_input},
        "outputs": model_output,
    }
    return signatures


def _input_descriptions(model, preprocessing, image_size):
    """`({served input: description}, model input description)`."""
    front_end = getattr(model, "front_end", None)
    if front_end is not None:
        rate = front_end.sample_rate
        return (
            {AUDIO_INPUT: f"int16 (batch, samples) PCM at {rate} Hz, any length"},
            "float32 (batch, samples), int16-scaled",
        )
    channels = model.input_shape[-1]
    own = f"float32 (batch, {image_size[0]}, {image_size[1]}, {channels})"
    if preprocessing:
        return {IMAGES_INPUT: f"uint8 (batch, height, width, {channels})"}, own
    return {IMAGES_INPUT: own}, own
