"""The interface every runner of an export implements (`Predictor`), and
the check that an export has this package's signatures."""

import numpy as np

from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.utils.validation import first_line


class Predictor:
    """An exported classifier.

    Attributes:
        path: str. What was loaded.
        card: dict or None. The model card.
        channels: int. Image channels the model takes.
        preprocessing: str or None. The mode embedded in the signature.
        image_size: tuple of int. `(height, width)` the model sees.
    """

    def __init__(self, path, card):
        self.path = path
        self.card = card or {}
        shape = self.card.get("input_shape") or [None, None, None]
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(d is None or (type(d) is int and d > 0) for d in shape)
        ):
            raise ValueError(
                f"The model card of {path!r} gives the input shape {shape!r}; "
                "an export of this package takes (height, width, channels) of "
                "positive sizes. The card is corrupt or belongs to another model."
            )
        self.image_size = tuple(shape[:2])
        self.channels = shape[2]
        self.preprocessing = _card_preprocessing(self.card, path)

    # Whether `predict_preprocessed` can take the model's float input.
    takes_preprocessed = True

    @property
    def class_names(self):
        return self.card.get("class_names")

    def check_images(self, images, dtype):
        """Validates a batch before it reaches the graph.

        Args:
            images: array. `(batch, height, width, channels)` or one image.
            dtype: str. The dtype to cast to.
        """
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4:
            raise ValueError(
                "`images` must have shape (batch, height, width, channels) or "
                f"(height, width, channels); received shape {images.shape}."
            )
        if self.channels is not None and images.shape[-1] != self.channels:
            raise ValueError(
                f"`images` must have {self.channels} channel(s) for "
                f"{self.path!r}; received shape {images.shape}."
            )
        return images.astype(dtype)

    def predict_images(self, images):
        """Probabilities for uint8 images of any size, `(batch, classes)`.

        Args:
            images: array. uint8 images of any size (or the model's float input for an
                export without preprocessing).
        """
        raise NotImplementedError

    def predict_preprocessed(self, inputs):
        """Probabilities for already preprocessed float32 inputs.

        Args:
            inputs: array. float32, already preprocessed, at the model's input size.
        """
        raise NotImplementedError


def check_signatures(path, found, required=(SERVE_SIGNATURE, PREPROCESSED_ENDPOINT)):
    """Refuses an export without this package's entry points.

    Args:
        path: str. The export, for the message.
        found: dict. `{signature: (input_names, output_names)}`.
        required: tuple of str. Signatures it must have. Defaults to
            `serving_default` and `serve_preprocessed`.

    Raises:
        ValueError: `serving_default` does not go from `images` to
            `probabilities`, or a required signature is missing.
    """
    serve = found.get(SERVE_SIGNATURE, ((), ()))
    if (
        (IMAGES_INPUT,) != tuple(serve[0])
        or PROBABILITIES_OUTPUT not in serve[1]
        or any(name not in found for name in required)
    ):
        raise ValueError(
            f"{path!r} is not a classifier exported by keras_residual: it "
            f"needs a {SERVE_SIGNATURE!r} signature from 'images' to "
            f"'probabilities' and the signatures {list(required)}; found "
            f"{found}. Export it with `keras-residual export` or "
            "keras_residual.export()."
        )


def signature_names(signature, kind):
    """Input or output names of a TFLite signature-list entry or a
    SavedModel concrete function.

    Args:
        signature: dict or concrete function. The signature.
        kind: str. `"inputs"` or `"outputs"`.
    """
    if isinstance(signature, dict):  # TFLite signature list entry
        return tuple(signature.get(kind, ()))
    if kind == "outputs":
        return tuple(signature.structured_outputs)
    return tuple(signature.structured_input_signature[1])


def check_card_channels(predictor, channels):
    """Refuses a card whose channels differ from those the model's own
    signature takes (`channels`; None when the signature leaves them open).

    Args:
        predictor: `Predictor`. Its `channels` came from the card.
        channels: int or None. The signature's channels.
    """
    if None not in (predictor.channels, channels) and predictor.channels != channels:
        raise ValueError(
            f"The model card of {predictor.path!r} says the model takes "
            f"{predictor.channels} channel(s), but its signature takes "
            f"{channels}: the card belongs to another export. Export the model "
            "again."
        )


def finite_probabilities(path, outputs):
    """`outputs` as a NumPy array, refusing NaN or inf: a corrupt export's
    scores must be an error, never an answer (or invalid `--json`).

    Args:
        path: str. The export, for the message.
        outputs: array-like. Its probabilities.
    """
    outputs = np.asarray(outputs)
    if not np.isfinite(outputs).all():
        raise ValueError(
            f"{path!r} produced non-finite probabilities (NaN or inf); "
            "its weights are corrupt. Export it again."
        )
    return outputs


def _card_preprocessing(card, path):
    """The `Preprocessing` a model card records (None for none); a card
    whose entry is not one is refused, naming the file."""
    entry = card.get("preprocessing") or {}
    try:
        return as_preprocessing(entry.get("mode") if isinstance(entry, dict) else entry)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The model card of {path!r} records a preprocessing keras_residual "
            f"cannot apply ({first_line(error)}). The card is corrupt or "
            "belongs to another model."
        ) from None
