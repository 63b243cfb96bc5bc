"""Running exported models: a SavedModel directory (or a TF Serving base
directory of versions), a `.tflite`, `.onnx` or `.keras` file, behind one
`Predictor` interface.

A SavedModel or TFLite export needs only TensorFlow and its model card: its
graph holds the whole model, so none of this package's layers are needed to
run it (`keras-residual predict` works on a SavedModel another machine
wrote). A `.keras` file needs the package's registered layers.
"""

import os

import numpy as np

from keras_residual.data.image_decode import decode_image
from keras_residual.data.image_decode import decode_image_file
from keras_residual.data.image_folder import MAX_IMAGE_BYTES
from keras_residual.data.image_folder import image_pixels_reason
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PREPROCESSED_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.graph_check import load_checked_saved_model
from keras_residual.serving.model_card import MODEL_CARD
from keras_residual.serving.model_card import card_path
from keras_residual.serving.model_card import read_model_card
from keras_residual.serving.onnx_predictor import ONNXPredictor
from keras_residual.serving.predictor_base import Predictor
from keras_residual.serving.predictor_base import check_card_channels
from keras_residual.serving.predictor_base import check_signatures
from keras_residual.serving.predictor_base import finite_probabilities
from keras_residual.serving.predictor_base import signature_names
from keras_residual.serving.tflite_check import check_tflite_file
from keras_residual.serving.tflite_runtime import run_signature
from keras_residual.serving.tflite_runtime import tflite_interpreter
from keras_residual.utils.download import file_digest
from keras_residual.utils.download import tree_digest
from keras_residual.utils.files import check_regular_file
from keras_residual.utils.validation import check_choice


class SavedModelPredictor(Predictor):
    """A SavedModel from `keras_residual.export`, via `tf.saved_model.load`."""

    def __init__(self, path, card, trust=False):
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        super().__init__(path, card)
        loaded = load_checked_saved_model(path, trust=trust)
        signatures = dict(loaded.signatures)
        check_signatures(path, _found(signatures))
        spec = signatures[SERVE_SIGNATURE].structured_input_signature[1][IMAGES_INPUT]
        check_card_channels(self, spec.shape[-1])
        if not card:  # read what the card would say from the signature
            self.channels = spec.shape[-1]
            self.preprocessing = "embedded" if spec.dtype == tf.uint8 else None
        self._loaded = loaded
        self._serve = signatures[SERVE_SIGNATURE]
        self._preprocessed = signatures.get(PREPROCESSED_ENDPOINT)

    def predict_images(self, images):
        """Probabilities `(batch, classes)` for images, through the uint8 signature.

        Args:
            images: array. See `Predictor.predict_images`.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        dtype = "uint8" if self.preprocessing else "float32"
        images = self.check_images(images, dtype)
        outputs = self._serve(**{IMAGES_INPUT: tf.constant(images)})
        return finite_probabilities(self.path, outputs[PROBABILITIES_OUTPUT])

    def predict_preprocessed(self, inputs):
        """Probabilities `(batch, classes)` for preprocessed inputs.

        Args:
            inputs: array. See `Predictor.predict_preprocessed`.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        inputs = self.check_images(inputs, "float32")
        outputs = self._preprocessed(**{PREPROCESSED_INPUT: tf.constant(inputs)})
        return finite_probabilities(self.path, outputs[PROBABILITIES_OUTPUT])


class TFLitePredictor(Predictor):
    """A `.tflite` file from `keras_residual.export`."""

    def __init__(self, path, card):
        super().__init__(path, card)
        # The interpreter trusts the flatbuffer: a bad one crashes the process.
        check_tflite_file(path)
        try:
            self._interpreter = tflite_interpreter(model_path=path)
            signatures = self._interpreter.get_signature_list()
        except (ValueError, RuntimeError, UnicodeDecodeError) as error:
            raise ValueError(
                f"{path!r} is not a readable TFLite model "
                f"({type(error).__name__}: {str(error)[:200]})."
            ) from None
        check_signatures(path, _found(signatures))
        self._serve = self._interpreter.get_signature_runner(SERVE_SIGNATURE)
        self._preprocessed = self._interpreter.get_signature_runner(
            PREPROCESSED_ENDPOINT
        )
        spec = self._serve.get_input_details()[IMAGES_INPUT]
        shape = list(spec["shape"])
        channels = int(shape[-1]) if len(shape) == 4 and shape[-1] > 0 else None
        check_card_channels(self, channels)
        if not card:  # read what the card would say from the signature
            self.channels = channels
            self.preprocessing = "embedded" if spec["dtype"] == np.uint8 else None

    def predict_images(self, images):
        """Probabilities `(batch, classes)` for images, through the uint8 signature.

        Args:
            images: array. See `Predictor.predict_images`.
        """
        dtype = "uint8" if self.preprocessing else "float32"
        return self._run(self._serve, IMAGES_INPUT, self.check_images(images, dtype))

    def predict_preprocessed(self, inputs):
        """Probabilities `(batch, classes)` for preprocessed inputs.

        Args:
            inputs: array. See `Predictor.predict_preprocessed`.
        """
        return self._run(
            self._preprocessed, PREPROCESSED_INPUT, self.check_images(inputs, "float32")
        )

    def _run(self, runner, name, batch):
        # One image at a time: the runner resizes its input per call, and
        # batch-1 is what TFLite is built for.
        try:
            rows = [
                run_signature(runner, **{name: batch[i : i + 1]})[PROBABILITIES_OUTPUT]
                for i in range(len(batch))
            ]
        except (RuntimeError, KeyError) as error:
            raise ValueError(
                f"{self.path!r} failed to run ({type(error).__name__}: "
                f"{str(error)[:200]}); the file may be corrupt."
            ) from None
        return finite_probabilities(self.path, np.concatenate(rows, axis=0))


class KerasPredictor(Predictor):
    """A `.keras` file (needs this package's layers to load)."""

    def __init__(self, path, card):
        import keras_residual.models  # noqa: F401  (registers the layers it uses)
        from keras_residual.core.heads import is_classifier
        from keras_residual.utils.keras_archive import load_keras_model

        # Not compiled: a predictor only predicts, and a compiled file's
        # loss and optimizer may come from code this layer cannot see.
        self.model = load_keras_model(path)
        try:
            classifier = is_classifier(self.model)
        except AttributeError:  # a Sequential saved before it was ever called
            raise ValueError(
                f"{path!r} holds a model that was never called, so its outputs "
                "are unknown; export it with keras_residual.export(model, "
                "path, 'keras') first."
            ) from None
        if not classifier:
            raise ValueError(f"{path!r} has no classifier to predict with.")
        card = card or {}
        if not card.get("input_shape"):  # a .keras file without a card
            card = dict(
                card,
                input_shape=list(self.model.input_shape[1:]),
                preprocessing={"mode": getattr(self.model, "preprocessing", None)},
            )
        if not card.get("class_names"):  # recorded in the model's config
            card = dict(card, class_names=getattr(self.model, "class_names", None))
        super().__init__(path, card)

    def predict_images(self, images):
        """Probabilities `(batch, classes)` for images, through the uint8 signature.

        Args:
            images: array. See `Predictor.predict_images`.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        from keras_residual.serving.signatures import preprocess_uint8

        if self.preprocessing is None:
            raise ValueError(
                f"{self.path!r} records no preprocessing, so it cannot take "
                "images: export it with export(model, path, format='keras', "
                "preprocessing='tf' | 'caffe' | 'torch'), or build or train it "
                "so that it records one."
            )
        images = self.check_images(images, "uint8")
        inputs = preprocess_uint8(
            tf.constant(images), self.preprocessing, self.image_size
        ).numpy()
        return self.predict_preprocessed(inputs)

    def predict_preprocessed(self, inputs):
        """Probabilities `(batch, classes)` for preprocessed inputs.

        Args:
            inputs: array. See `Predictor.predict_preprocessed`.
        """
        from keras_residual.core.heads import output_probabilities

        inputs = self.check_images(inputs, "float32")
        probabilities = output_probabilities(
            self.model, self.model.predict(inputs, verbose=0)
        )
        return finite_probabilities(self.path, probabilities)


def load_predictor(path, trust=False):
    """Loads an exported model: a SavedModel directory (or a run directory
    holding `saved_model/`, or a TF Serving base directory, whose latest
    version is loaded), a `.tflite`, `.onnx` or `.keras` file (the latter
    with `safe_mode=True`).

    Args:
        path: str. A SavedModel directory, a run directory, a TF Serving
            base directory, a `.tflite`, `.onnx` or `.keras` file.
        trust: bool. Run a SavedModel whose graph uses ops outside the
            tensor-op allow-list (see `serving.graph_check`). Defaults to
            `False`.

    Raises:
        ValueError: a missing path, or one that is not an export of this
            package (corrupt, foreign, or without its signatures).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"Model path {path!r} does not exist.")
    if os.path.isdir(os.path.join(path, "saved_model")):  # a run directory
        path = os.path.join(path, "saved_model")
    path = latest_version(path)
    if not os.path.isdir(path):
        check_regular_file(path, "Model file")
    card = read_model_card(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                f"{path!r} is a directory without saved_model.pb, so not a "
                "SavedModel. Pass a SavedModel directory, a .tflite or a "
                ".keras file (or a run directory's saved_model/)."
            )
    _check_artifact(path, card)
    if (card and card.get("front_end")) or _keras_audio_model(path):
        from keras_residual.serving.audio_predictor import AudioPredictor

        return AudioPredictor(path, card, trust=trust)  # int16 samples in
    if os.path.isdir(path):
        return SavedModelPredictor(path, card, trust=trust)
    if path.endswith(".tflite"):
        return TFLitePredictor(path, card)
    if path.endswith(".onnx"):
        return ONNXPredictor(path, card)
    if path.endswith(".keras"):
        return KerasPredictor(path, card)
    raise ValueError(
        f"Model path {path!r} is neither a SavedModel directory nor a "
        ".tflite, .onnx or .keras file."
    )


def _keras_audio_model(path):
    """Whether `path` is a `.keras` file whose model has an audio front end
    (read from its config, nothing built)."""
    if not path.endswith(".keras"):
        return False
    from keras_residual.utils.keras_archive import read_keras_config

    config = read_keras_config(path).get("config", {})
    return bool(isinstance(config, dict) and config.get("front_end"))


def latest_version(path):
    """The highest-numbered version of a TF Serving base directory
    (`path/<version>/saved_model.pb`, as `export(..., version=N)` writes),
    as TF Serving's default policy serves; any other path as it is.

    Args:
        path: str. A path.
    """
    if not os.path.isdir(path) or os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [
        int(name)
        for name in os.listdir(path)
        if name.isdigit() and os.path.isfile(os.path.join(path, name, "saved_model.pb"))
    ]
    return os.path.join(path, str(max(versions))) if versions else path


def _found(signatures):
    return {
        name: (
            signature_names(signature, "inputs"),
            signature_names(signature, "outputs"),
        )
        for name, signature in signatures.items()
    }


def _check_artifact(path, card):
    """An export must match the sha256 its card names (when it names one):
    otherwise the export was interrupted or a file in it changed."""
    expected = (card or {}).get("artifact_sha256")
    if os.path.isdir(path):
        found = tree_digest(path, exclude=(MODEL_CARD,)) if expected else None
    else:
        found = file_digest(path, "sha256") if expected else None
    if expected and found != expected:
        raise ValueError(
            f"{path!r} does not match the sha256 in its model card "
            f"{card_path(path)!r}: the export was interrupted or the file was "
            "changed. Export it again (with overwrite=True / --overwrite)."
        )


def read_images(paths, channels, decoder="tensorflow"):
    """Decodes image files to a list of uint8 `(height, width, channels)`
    arrays (PNG, JPEG, BMP, GIF), converting colour as needed.

    Args:
        paths: list of str. Image files.
        channels: int or None. Channels to decode to.
        decoder: str. `"tensorflow"`, or `"pillow"` (no TensorFlow
            loaded: PNG, BMP and GIF give the same values, a JPEG may
            differ by a few levels). Defaults to `"tensorflow"`.
    """
    check_choice("decoder", decoder, ("tensorflow", "pillow"))
    images = []
    for path in paths:
        if not os.path.lexists(path):
            raise ValueError(f"Image file {path!r} does not exist.")
        check_regular_file(path, "Image file", MAX_IMAGE_BYTES)
        too_large = image_pixels_reason(path)
        if too_large is not None:
            raise ValueError(f"Image file {path!r} {too_large}.")
        image = decode_image_file(path, channels) if decoder == "pillow" else None
        images.append(
            image if image is not None else _tensorflow_decoded(path, channels)
        )
    return images


def _tensorflow_decoded(path, channels):
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    try:
        return decode_image(tf.io.read_file(path), channels).numpy()
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(
            f"{path!r} is not a readable image ({error.message})."
        ) from None
