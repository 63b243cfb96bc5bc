"""`export()`: a trained model to a SavedModel, a `.keras` file or a TFLite
flatbuffer, written atomically and described by a model card.

SavedModel and TFLite exports run in float32 whatever the training
precision: the variables of a mixed-precision model are float32 already, so
the export rebuilds the graph with a float32 policy and copies them over.
That is what lets a mixed-precision model convert to TFLite.
"""

import os

import keras

from keras_residual.core.builder import ResidualModel
from keras_residual.core.heads import is_classifier
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.serving.endpoints import FEATURES_OUTPUT
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PREPROCESSED_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_ENDPOINTS
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.endpoints import TOP_K_CLASSES_OUTPUT
from keras_residual.serving.endpoints import TOP_K_SCORES_OUTPUT
from keras_residual.serving.model_card import MODEL_CARD
from keras_residual.serving.model_card import build_model_card
from keras_residual.serving.model_card import card_path
from keras_residual.serving.signatures import build_archive
from keras_residual.serving.tflite import calibration_images
from keras_residual.serving.tflite import check_quantize
from keras_residual.serving.tflite import convert_to_tflite
from keras_residual.serving.tflite import tflite_accuracy
from keras_residual.utils.atomic import atomic_directory
from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.atomic import remove_stale_staging
from keras_residual.utils.atomic import write_json
from keras_residual.utils.download import file_digest
from keras_residual.utils.download import tree_digest
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

FORMATS = ("saved_model", "keras", "tflite")
DEFAULT_TOP_K = 5
FILE_SUFFIXES = {"keras": ".keras", "tflite": ".tflite"}


def export(
    model,
    path,
    format="saved_model",
    *,
    preprocessing="auto",
    image_size=None,
    top_k=None,
    class_names=None,
    metrics=None,
    overwrite=False,
    quantize=None,
    representative_data=None,
):
    """Exports `model` for serving, atomically, with a model card.

    Args:
        model: `keras.Model`. A model with one image input.
        path: str. A directory for `"saved_model"`, a `.keras` or `.tflite`
            file otherwise.
        format: str. `"saved_model"`, `"keras"` or `"tflite"`. Defaults to
            `"saved_model"`.
        preprocessing: str or None. Preprocessing to embed in the serving
            signature, which then takes uint8 images of any size: `"tf"`,
            `"caffe"` or `"torch"`; `None` for a signature that takes the
            model's own float32 input; `"auto"` for the mode the model
            records (`model.preprocessing`: its weights', or the pipeline's
            that trained it), never guessed from its name; a model that
            records none is refused. Defaults to `"auto"`.
        image_size: tuple of int or None. `(height, width)` images are
            resized to. Defaults to the model's input size, or its spec's
            `default_size` when that is dynamic.
        top_k: int or None. Classes per image returned by `serve`, at most
            the class count. Defaults to 5, or the class count if smaller.
        class_names: list of str or None. Recorded in the model card and
            used by `keras-residual predict`. Defaults to `None`.
        metrics: dict or None. Evaluation results for the model card.
            Defaults to `None`.
        overwrite: bool. Replace an existing export. Defaults to `False`.
        quantize: str or None. TFLite post-training quantization:
            `"dynamic"` (int8 weights), `"float16"` (float16 weights) or
            `"int8"` (weights and activations; needs `representative_data`).
            Defaults to `None` (float32).
        representative_data: object or None. A `load_data` bundle, a
            `tf.data.Dataset` or an array of preprocessed images: calibrates
            int8; a bundle's test split also gives the card the TFLite
            model's accuracy. Defaults to `None`.

    Returns:
        The path written.

    Raises:
        ValueError: unknown format, a destination of the wrong kind, an
            existing destination without `overwrite=True`, or a model that
            does not take images.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model; received {type(model).__name__}."
        )
    model = _functional(model)
    check_choice("format", format, FORMATS)
    check_quantize(quantize, format, representative_data)
    path = _check_destination(os.fspath(path), format, overwrite)
    image_size = _image_size(model, image_size)
    preprocessing = _preprocessing(model, preprocessing)
    class_names = _class_names(model, class_names)
    if top_k is None:
        top_k = min(DEFAULT_TOP_K, model.output.shape[-1] or DEFAULT_TOP_K)
    check_int("top_k", top_k, minimum=1)
    card = build_model_card(
        model,
        export_format=format,
        preprocessing=preprocessing,
        image_size=image_size,
        top_k=top_k,
        class_names=class_names,
        metrics=metrics,
        trained_precision=keras.dtype_policies.get(model.dtype_policy).name,
        signatures=_signature_card(model, preprocessing, image_size, top_k),
    )
    # A kill during an earlier export of this destination left staging.
    remove_stale_staging(os.path.dirname(path), target=os.path.basename(path))
    if format == "keras":
        with atomic_path(path, suffix=".keras") as temporary:
            model.save(temporary)
            _write_card_for(card, temporary, path)
        return path
    if format == "tflite" and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "format='tflite' needs the TensorFlow backend (the TFLite "
            f"converter cannot lower this {keras.backend.backend()} graph). "
            "Save the model with format='keras', then run "
            "`KERAS_BACKEND=tensorflow keras-residual export MODEL.keras "
            "--format tflite --out MODEL.tflite`."
        )
    serve_names = (SERVE_SIGNATURE,) if format == "tflite" else SERVE_ENDPOINTS
    archive = build_archive(
        float32_model(model),
        preprocessing=preprocessing,
        image_size=image_size,
        top_k=top_k,
        serve_names=serve_names,
    )
    if format == "saved_model":
        with atomic_directory(path, overwrite=True) as temporary:
            archive.write_out(temporary, verbose=False)
            card["artifact_sha256"] = tree_digest(temporary, exclude=(MODEL_CARD,))
            write_json(os.path.join(temporary, MODEL_CARD), card)
        return path
    images = None
    if representative_data is not None:
        images = calibration_images(representative_data, model.input.shape[1:])
    flatbuffer = convert_to_tflite(archive, quantize, images, preprocessing)
    card["quantization"] = {
        "mode": quantize or "float32",
        "size_bytes": len(flatbuffer),
    }
    if getattr(representative_data, "test", None) is not None:
        accuracy = tflite_accuracy(flatbuffer, representative_data.test)
        card["quantization"]["test_accuracy"] = accuracy
    with atomic_path(path, suffix=".tflite") as temporary:
        with open(temporary, "wb") as handle:
            handle.write(flatbuffer)
        _write_card_for(card, temporary, path)
    return path


def _write_card_for(card, staged, path):
    """Writes the card of a file export before the file itself is renamed
    into place, naming the file's sha256: a kill in between leaves a card
    whose artefact is missing or does not match, which loading refuses."""
    card = dict(card, artifact_sha256=file_digest(staged, "sha256"))
    write_json(card_path(path), card)


def save_keras(model, path):
    """Saves `model` as a `.keras` file at `path`, atomically.

    Args:
        model: `keras.Model`. The model.
        path: str. The destination, ending in `.keras`.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(f"`path` must end in '.keras'; received {path!r}.")
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
    return path


def float32_model(model):
    """Returns `model` if it computes in float32, else a float32 copy with
    the same weights (mixed-precision variables are float32 already).

    Args:
        model: `keras.Model`. The model.
    """
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        if type(model) is ResidualModel:
            copy = ResidualModel.from_config(model.get_config())
        else:
            copy = keras.models.clone_model(model, clone_function=_float32_layer)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def _float32_layer(layer):
    config = layer.get_config()
    if not isinstance(layer, keras.layers.InputLayer):
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def _functional(model):
    """`model` itself, or a built `Sequential` as the Functional model of
    the same layers; a model that was never built is refused."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"`model` {model.name!r} has never been built, so it has no input "
            "shape to export. Start it with keras.Input(shape=...) (or call "
            "it on a batch) first."
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"`model` {model.name!r} has {len(inputs)} inputs and "
            f"{len(outputs)} outputs; export takes one image input and one "
            "output."
        )
    if isinstance(model, keras.Sequential):
        return keras.Model(inputs[0], outputs[0], name=model.name)
    return model


def _check_destination(path, format, overwrite):
    if format == "saved_model":
        if os.path.isfile(path):
            raise ValueError(
                f"`path` {path!r} is a file; a SavedModel is a directory. "
                "Choose a directory path, or format='keras' / 'tflite'."
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


def _image_size(model, image_size):
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


def _preprocessing(model, preprocessing):
    if preprocessing == "auto":
        preprocessing = getattr(model, "preprocessing", None)
        if preprocessing is None:
            raise ValueError(
                f"`preprocessing='auto'` reads the preprocessing the model "
                f"records, and {model.name!r} records none (it was neither "
                "built with registered weights nor trained by "
                "keras_residual.train). Pass the mode its inputs were scaled "
                "with: preprocessing='tf' ([-1, 1], what load_data and train "
                "use), 'caffe' or 'torch'; or None for a signature that takes "
                "the model's own float input."
            )
        return _preprocessing(model, preprocessing)
    if preprocessing is None:
        return None
    check_choice("preprocessing", preprocessing, PREPROCESSING_MODES + ("auto",))
    channels = model.input_shape[-1]
    if preprocessing in ("caffe", "torch") and channels != 3:
        raise ValueError(
            f"preprocessing={preprocessing!r} needs RGB images; the model "
            f"takes {channels} channel(s). Use 'tf' or None."
        )
    return preprocessing


def _class_names(model, class_names):
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


def _signature_card(model, preprocessing, image_size, top_k):
    channels = model.input_shape[-1]
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
    images = (
        f"uint8 (batch, height, width, {channels})"
        if preprocessing
        else f"float32 (batch, {image_size[0]}, {image_size[1]}, {channels})"
    )
    model_output = {
        key: value
        for key, value in outputs.items()
        if key not in (TOP_K_CLASSES_OUTPUT, TOP_K_SCORES_OUTPUT)
    }
    signatures = {
        name: {"inputs": {IMAGES_INPUT: images}, "outputs": outputs}
        for name in SERVE_ENDPOINTS
    }
    signatures[PREPROCESSED_ENDPOINT] = {
        "inputs": {
            PREPROCESSED_INPUT: f"float32 (batch, {image_size[0]}, "
            f"{image_size[1]}, {channels})"
        },
        "outputs": model_output,
    }
    return signatures
