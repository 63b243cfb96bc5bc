"""`export()`: a trained model to a SavedModel, a `.keras` file, a TFLite
flatbuffer or an ONNX model, written atomically and described by a model
card.

SavedModel, TFLite and ONNX exports run in float32 whatever the training
precision: the variables of a mixed-precision model are float32 already, so
the export rebuilds the graph with a float32 policy and copies them over.
That is what lets a mixed-precision model convert to TFLite.
"""

import os

import keras

from keras_residual.core.builder import ResidualModel
from keras_residual.core.preprocessing import preprocessing_json
from keras_residual.serving.bn_folding import fold_batch_norm as fold_batch_norms
from keras_residual.serving.endpoints import FORMATS
from keras_residual.serving.endpoints import SERVE_ENDPOINTS
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.export_checks import check_class_names
from keras_residual.serving.export_checks import check_destination
from keras_residual.serving.export_checks import resolve_image_size
from keras_residual.serving.export_checks import resolve_preprocessing
from keras_residual.serving.export_checks import signature_card
from keras_residual.serving.model_card import MODEL_CARD
from keras_residual.serving.model_card import build_model_card
from keras_residual.serving.model_card import card_path
from keras_residual.serving.onnx_export import ONNX_OPSET
from keras_residual.serving.onnx_export import convert_to_onnx
from keras_residual.serving.serving_options import ExportOptions
from keras_residual.serving.signatures import build_archive
from keras_residual.serving.tflite import calibration_clips
from keras_residual.serving.tflite import calibration_images
from keras_residual.serving.tflite import check_quantize
from keras_residual.serving.tflite import check_tflite_resize
from keras_residual.serving.tflite import convert_to_tflite
from keras_residual.serving.tflite import tflite_accuracy
from keras_residual.serving.tflite_audio import check_audio_int8
from keras_residual.serving.tflite_audio import tflite_audio_accuracy
from keras_residual.utils.atomic import atomic_directory
from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.atomic import remove_stale_staging
from keras_residual.utils.atomic import save_keras  # noqa: F401 (0.1 import path)
from keras_residual.utils.atomic import write_json
from keras_residual.utils.deprecation import renamed_argument
from keras_residual.utils.download import file_digest
from keras_residual.utils.download import tree_digest
from keras_residual.utils.dtype_policy import global_dtype_policy
from keras_residual.utils.options import options_argument
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

DEFAULT_TOP_K = 5


def export(model, out=None, format="saved_model", options=None, **fields):
    """Exports `model` for serving, atomically, with a model card.

    Args:
        model: `keras.Model`. A model with one image input.
        out: str. Where to write: a directory for `"saved_model"`, a
            `.keras`, `.tflite` or `.onnx` file otherwise (the name `out`
            means the same in `train`, `search` and the CLI).
        format: str. `"saved_model"`, `"keras"`, `"tflite"` or `"onnx"`
            (the `serving_default` graph, for ONNX Runtime; needs the
            `onnx` extra). Defaults to `"saved_model"`.
        options: `ExportOptions` or None. Embedded preprocessing, image
            size, top-k, class names, metrics, overwrite, quantization and
            its data, TF Serving version, BatchNorm folding. Defaults to
            `ExportOptions()`.
        **fields: any field of `ExportOptions` by name, as in
            `export(model, "m.tflite", "tflite", quantize="int8", ...)`; it
            overrides the field of `options`. (`path`, the 0.1 name of
            `out`, warns.)

    Returns:
        The path written.

    Raises:
        ValueError: unknown format, a destination of the wrong kind, an
            existing destination without `overwrite=True`, or a model that
            does not take images.
        ImportError: format `"onnx"` without tf2onnx and onnx installed.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model; received {type(model).__name__}."
        )
    path = renamed_argument("export", "path", "out", fields.pop("path", None), out)
    if path is None:
        raise TypeError("export() needs `out`, the destination to write.")
    options = options_argument("export", ExportOptions, options, fields)
    model = _functional(model)
    check_choice("format", format, FORMATS)
    check_quantize(options.quantize, format, options.representative_data)
    fold = _check_fold(options.fold_batch_norm, format)
    path = _versioned(os.fspath(path), format, options.version)
    path = check_destination(path, format, options.overwrite)
    image_size, preprocessing = _input_settings(model, options, format)
    class_names = check_class_names(model, options.class_names)
    top_k = _top_k(model, options.top_k)
    card = build_model_card(
        model,
        export_format=format,
        preprocessing=preprocessing,
        image_size=image_size,
        top_k=top_k,
        class_names=class_names,
        metrics=options.metrics,
        trained_precision=keras.dtype_policies.get(model.dtype_policy).name,
        signatures=signature_card(model, preprocessing, image_size, top_k),
    )
    _remove_stale_staging(path)
    if format == "keras":
        return _write_keras(model, path, card)
    _check_backend(format)
    archive = _serving_archive(
        model, card, fold, format, preprocessing, image_size, top_k
    )
    if format == "saved_model":
        return _write_saved_model(archive, path, card)
    if format == "onnx":
        return _write_onnx(archive, path, card, preprocessing, image_size, class_names)
    return _write_tflite(
        archive, path, card, model, preprocessing, options.quantize,
        options.representative_data,
    )  # fmt: skip


def _input_settings(model, options, format):
    """`(image_size, preprocessing)` the export embeds; `(None, None)` for
    an audio model, whose served input is int16 samples through its own
    front end."""
    if getattr(model, "front_end", None) is not None:
        if options.preprocessing not in ("auto", "none", None):
            raise ValueError(
                f"`preprocessing={options.preprocessing!r}` applies to images; "
                f"{model.name!r} is an audio model (its front end is inside "
                "it). Leave `preprocessing` at 'auto'."
            )
        return None, None
    image_size = resolve_image_size(model, options.image_size)
    preprocessing = resolve_preprocessing(model, options.preprocessing)
    check_tflite_resize(preprocessing, format)
    return image_size, preprocessing


def _top_k(model, top_k):
    """`top_k`, or by default 5 or the class count when fewer."""
    if top_k is None:
        top_k = min(DEFAULT_TOP_K, model.output.shape[-1] or DEFAULT_TOP_K)
    return check_int("top_k", top_k, minimum=1)


def _remove_stale_staging(path):
    """Removes what a kill during an earlier export of `path` left: the
    artefact's staging, or the card's beside a file (`card_path`)."""
    base = os.path.basename(path)
    for target in (base, f"{base}.{MODEL_CARD}"):
        remove_stale_staging(os.path.dirname(path), target=target)


def _write_keras(model, path, card):
    """Writes a `.keras` file and its card, atomically."""
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
        _write_card_for(card, temporary, path)
    return path


def _check_backend(format):
    """Refuses TFLite and ONNX off the TensorFlow backend."""
    if format in ("tflite", "onnx") and keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"format={format!r} needs the TensorFlow backend (its converter "
            f"cannot lower this {keras.backend.backend()} graph). Save the "
            "model with format='keras', then run `KERAS_BACKEND=tensorflow "
            f"keras-residual export MODEL.keras --format {format} --out "
            f"MODEL.{format}`."
        )


def _serving_archive(model, card, fold, format, preprocessing, image_size, top_k):
    """The serving graph (float32, BatchNorm folded when `fold`, which the
    card records) with its endpoints for `format`."""
    graph_model = float32_model(model)
    if fold:
        graph_model, folded = fold_batch_norms(graph_model)
        card["folded_batch_norms"] = folded
    return build_archive(
        graph_model,
        preprocessing=preprocessing,
        image_size=image_size,
        top_k=top_k,
        serve_names=SERVE_ENDPOINTS if format == "saved_model" else (SERVE_SIGNATURE,),
    )


def _write_saved_model(archive, path, card):
    """Writes a SavedModel directory and its card, atomically."""
    with atomic_directory(path, overwrite=True) as temporary:
        archive.write_out(temporary, verbose=False)
        card["artifact_sha256"] = tree_digest(temporary, exclude=(MODEL_CARD,))
        write_json(os.path.join(temporary, MODEL_CARD), card)
    return path


def _write_onnx(archive, path, card, preprocessing, image_size, class_names):
    """Converts the serving graph to ONNX and writes it with its card."""
    serialized = convert_to_onnx(
        archive,
        metadata={
            "keras_residual.preprocessing": preprocessing_json(preprocessing) or "none",
            "keras_residual.image_size": list(image_size or ()),
            "keras_residual.class_names": class_names or [],
        },
    )
    card["onnx"] = {"opset": ONNX_OPSET, "size_bytes": len(serialized)}
    card["signatures"] = {SERVE_SIGNATURE: card["signatures"][SERVE_SIGNATURE]}
    return _write_file(serialized, path, card, ".onnx")


def _write_tflite(
    archive, path, card, model, preprocessing, quantize, representative_data
):
    """Converts the serving graph to TFLite (quantized on request) and
    writes it with its card; a bundle's test split scores the result."""
    images, audio = None, getattr(model, "front_end", None)
    if audio is not None and quantize == "int8":
        check_audio_int8(audio)
    if representative_data is not None and audio is not None:
        images = calibration_clips(representative_data)
    elif representative_data is not None:
        images = calibration_images(representative_data, model.input.shape[1:])
    flatbuffer = convert_to_tflite(archive, quantize, images, preprocessing, audio)
    card["quantization"] = {
        "mode": quantize or "float32",
        "size_bytes": len(flatbuffer),
    }
    if getattr(representative_data, "test", None) is not None:
        score = tflite_accuracy if audio is None else tflite_audio_accuracy
        accuracy = score(flatbuffer, representative_data.test)
        card["quantization"]["test_accuracy"] = accuracy
    return _write_file(flatbuffer, path, card, ".tflite")


def _check_fold(fold_batch_norm, format):
    """Whether the exported graph folds BatchNorm into convolutions."""
    if not isinstance(fold_batch_norm, bool) and fold_batch_norm != "auto":
        raise ValueError(
            "`fold_batch_norm` must be True, False or 'auto'; received "
            f"{fold_batch_norm!r}."
        )
    if fold_batch_norm is True and format == "keras":
        raise ValueError(
            "`fold_batch_norm=True` changes the exported graph; format='keras' "
            "saves the model as it is. Use format='saved_model', 'tflite' or "
            "'onnx', or leave fold_batch_norm='auto'."
        )
    return fold_batch_norm is True or (
        fold_batch_norm == "auto" and format == "saved_model"
    )


def _versioned(path, format, version):
    """`path/<version>` for a versioned SavedModel, else `path`."""
    if version is None:
        return path
    if format != "saved_model":
        raise ValueError(
            f"`version={version!r}` writes TF Serving's `out/<version>/` "
            f"layout of a SavedModel; received format={format!r}."
        )
    check_int("version", version, minimum=1)
    if os.path.isfile(path):
        raise ValueError(
            f"`out` {path!r} is a file; with `version` it is the model's base "
            "directory, which holds one directory per version."
        )
    return os.path.join(path, str(version))


def _write_file(content, path, card, suffix):
    """Writes a one-file export and its card, atomically."""
    with atomic_path(path, suffix=suffix) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(content)
        _write_card_for(card, temporary, path)
    return path


def _write_card_for(card, staged, path):
    """Writes the card of a file export before the file itself is renamed
    into place, naming the file's sha256: a kill in between leaves a card
    whose artefact is missing or does not match, which loading refuses."""
    card = dict(card, artifact_sha256=file_digest(staged, "sha256"))
    write_json(card_path(path), card)


def float32_model(model):
    """Returns `model` if it computes in float32, else a float32 copy with
    the same weights (mixed-precision variables are float32 already).

    Args:
        model: `keras.Model`. The model.
    """
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model
    with global_dtype_policy("float32"):
        if type(model) is ResidualModel:
            copy = ResidualModel.from_config(model.get_config())
        else:
            copy = keras.models.clone_model(model, clone_function=_float32_layer)
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
