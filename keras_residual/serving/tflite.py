"""TFLite conversion: float32, and post-training quantization (`dynamic`
range, `float16` weights, full `int8` with a representative dataset and
uint8 inputs and outputs), with the size and test accuracy of the result
for the model card.

`serving_default` is the flatbuffer's first subgraph, the one a client's
`get_input_details()` and `invoke()` use; the converter orders signatures
by name, which would put `serve_preprocessed` first.
"""

import tempfile

import numpy as np

from keras_residual.core.preprocessing import to_pixels
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PREPROCESSED_INPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.tflite_audio import quantize_audio_int8
from keras_residual.serving.tflite_runtime import run_signature
from keras_residual.serving.tflite_runtime import tflite_interpreter
from keras_residual.utils.validation import check_choice

QUANTIZATIONS = (None, "dynamic", "float16", "int8")
# Images the int8 calibration reads at most.
CALIBRATION_IMAGES = 200


# The resize methods TFLite's builtin operators implement.
TFLITE_RESIZES = ("bilinear", "nearest")


def check_quantize(quantize, format, representative_data):
    """Refuses `quantize` outside TFLite, and int8 without data.

    Args:
        quantize: str or None. The requested quantization.
        format: str. The export format.
        representative_data: object or None. Calibration data.
    """
    check_choice("quantize", quantize, QUANTIZATIONS)
    if quantize is not None and format != "tflite":
        raise ValueError(
            f"`quantize={quantize!r}` applies to format='tflite' only; "
            f"received format={format!r}."
        )
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "`quantize='int8'` needs `representative_data`: a load_data "
            "bundle, a tf.data.Dataset or an array of preprocessed images "
            "(the CLI's --dataset) to calibrate the activations."
        )


def check_tflite_resize(preprocessing, format):
    """Refuses a TFLite export whose embedded resize TFLite has no kernel
    for (it has bilinear and nearest-neighbour only).

    Args:
        preprocessing: `Preprocessing` or None. What the export embeds.
        format: str. The export format.
    """
    if format == "tflite" and preprocessing is not None:
        if preprocessing.interpolation not in TFLITE_RESIZES:
            raise ValueError(
                f"`preprocessing` resizes with interpolation="
                f"{preprocessing.interpolation!r}, which TFLite has no kernel "
                f"for; TFLite resizes with {' or '.join(TFLITE_RESIZES)}. Export "
                "a SavedModel or ONNX, or pass a Preprocessing with "
                "interpolation='bilinear' (or preprocessing='none')."
            )


def calibration_images(data, input_shape, limit=CALIBRATION_IMAGES, check_shape=True):
    """Up to `limit` preprocessed images, float32 `(n, h, w, c)`, from
    `data`: a `load_data` bundle (its validation, else test, else train
    split), a `tf.data.Dataset` of images or `(images, labels)`, or an
    array.

    Args:
        data: object. The representative data.
        input_shape: tuple. The model's `(height, width, channels)`.
        limit: int. Images at most. Defaults to `CALIBRATION_IMAGES`.
        check_shape: bool. Refuse images not float or not of
            `input_shape`. Defaults to `True`.

    Raises:
        ValueError: empty data, or images of another shape or dtype.
    """
    if hasattr(data, "train") and hasattr(data, "test"):  # a DataBundle
        data = next(d for d in (data.validation, data.test, data.train) if d)
    if hasattr(data, "as_numpy_iterator"):  # a tf.data.Dataset
        batches, count = [], 0
        for element in data.as_numpy_iterator():
            images = element[0] if isinstance(element, tuple) else element
            images = images[None] if images.ndim == len(input_shape) else images
            batches.append(images)
            count += len(images)
            if count >= limit:
                break
        images = np.concatenate(batches) if batches else np.zeros((0,))
    else:
        images = np.asarray(data)
    images = images[:limit]
    if images.size == 0:
        raise ValueError("`representative_data` is empty; it needs some images.")
    if check_shape and (
        images.dtype.kind != "f" or tuple(images.shape[1:]) != tuple(input_shape)
    ):
        raise ValueError(
            "`representative_data` must hold preprocessed float images of the "
            f"model's input shape {tuple(input_shape)}; received "
            f"{images.dtype} of shape {images.shape}."
        )
    return images.astype("float32")


def calibration_clips(data, limit=CALIBRATION_IMAGES):
    """Up to `limit` clips, float32 `(n, samples)` on the int16 scale, from
    `data`: a `load_data` bundle of audio (its validation, else test, else
    train split), a `tf.data.Dataset` of clips or `(clips, labels)`, or an
    array.

    Args:
        data: object. The representative data.
        limit: int. Clips at most. Defaults to `CALIBRATION_IMAGES`.

    Raises:
        ValueError: empty data, or not a batch of 1-D clips.
    """
    clips = calibration_images(data, (None,), limit, check_shape=False)
    if clips.ndim != 2 or clips.dtype.kind not in "fiu":
        raise ValueError(
            "`representative_data` of an audio model must hold clips "
            f"`(n, samples)`; received shape {clips.shape}."
        )
    return clips


def convert_to_tflite(
    archive, quantize=None, images=None, preprocessing=None, audio=None
):
    """Converts a serving archive (from `signatures.build_archive`, built
    with `serve_names=("serving_default",)`) to a TFLite flatbuffer with
    the `serving_default` and `serve_preprocessed` signatures.

    Args:
        archive: `keras.export.ExportArchive`. The serving archive.
        quantize: str or None. See `QUANTIZATIONS`. Defaults to `None`.
        images: array or None. Calibration images for int8 (preprocessed).
        preprocessing: str or None. The mode embedded in `serving_default`
            (its calibration inputs are the images as uint8 pixels).
        audio: `AudioFrontEnd` or None. An audio model's front end:
            `images` are clips, and int8 keeps `serving_default` alone, its
            int16 samples, float probabilities and a float front end
            (`tflite_audio`). Defaults to `None`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    with tempfile.TemporaryDirectory(prefix="keras-residual-tflite-") as tmp:
        archive.write_out(tmp, verbose=False)
        if quantize == "int8" and audio is not None:
            return quantize_audio_int8(tmp, images)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            tmp, signature_keys=[SERVE_SIGNATURE, PREPROCESSED_ENDPOINT]
        )
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = _representative(images, preprocessing)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            # Integer only end to end: float inputs and outputs become uint8
            # with the scale and zero point in the tensor details.
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.uint8
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # the converter raises ConverterError
            raise ValueError(
                f"TFLite conversion failed: {error}. Export format "
                "'saved_model' still works."
            ) from error
    return signature_first(flatbuffer, SERVE_SIGNATURE)


def signature_first(flatbuffer, signature):
    """`flatbuffer` with the subgraph of `signature` moved to index 0.

    Args:
        flatbuffer: bytes. A TFLite model.
        signature: str. The signature whose subgraph goes first.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    keys = [definition.signatureKey.decode() for definition in model.signatureDefs]
    first = model.signatureDefs[keys.index(signature)].subgraphIndex
    if first == 0:
        return bytes(flatbuffer)
    order = [first] + [i for i in range(len(model.subgraphs)) if i != first]
    moved = {old: new for new, old in enumerate(order)}
    model.subgraphs = [model.subgraphs[i] for i in order]
    for definition in model.signatureDefs:
        definition.subgraphIndex = moved[definition.subgraphIndex]
    model.signatureDefs.sort(key=lambda definition: definition.subgraphIndex)
    for subgraph in model.subgraphs:  # control flow ops name subgraphs too
        for operator in subgraph.operators or ():
            options = getattr(operator.builtinOptions, "__dict__", {})
            for field, value in options.items():
                if "subgraph" in field.lower() and isinstance(value, int):
                    setattr(operator.builtinOptions, field, moved[value])
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _representative(images, preprocessing):
    """Calibration samples for both signatures, one image at a time."""

    def samples():
        for image in images:
            batch = image[None]
            yield PREPROCESSED_ENDPOINT, {PREPROCESSED_INPUT: batch}
            if preprocessing:
                pixels = np.clip(np.round(to_pixels(batch, preprocessing)), 0, 255)
                yield SERVE_SIGNATURE, {IMAGES_INPUT: pixels.astype("uint8")}
            else:
                yield SERVE_SIGNATURE, {IMAGES_INPUT: batch}

    return samples


def tflite_accuracy(flatbuffer, dataset):
    """Top-1 accuracy of a TFLite flatbuffer's `serve_preprocessed` on a
    batched `(images, labels)` dataset.

    Args:
        flatbuffer: bytes. The converted model.
        dataset: `tf.data.Dataset`. Batched, preprocessed test data.
    """
    interpreter = tflite_interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner(PREPROCESSED_ENDPOINT)
    correct = total = 0
    for images, labels, *_ in dataset.as_numpy_iterator():
        for image, label in zip(images, labels):
            output = run_signature(
                runner, **{PREPROCESSED_INPUT: image[None].astype("float32")}
            )
            predicted = int(np.argmax(next(iter(output.values()))[0]))
            correct += int(
                predicted == int(np.argmax(label) if np.ndim(label) else label)
            )
            total += 1
    return correct / max(total, 1)
