"""`AudioPredictor`: a SavedModel of an audio model (its card records a
front end), fed int16 samples; `load_predictor` returns one for such an
export, and `keras-residual predict` feeds it WAV files."""

import numpy as np

from keras_residual.core.front_end import AudioFrontEnd
from keras_residual.serving.endpoints import AUDIO_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.graph_check import load_checked_saved_model
from keras_residual.serving.predictor_base import finite_probabilities
from keras_residual.serving.predictor_base import signature_names
from keras_residual.utils.validation import first_line


class AudioPredictor:
    """An exported audio classifier.

    Attributes:
        path: str. The SavedModel.
        card: dict. Its model card.
        front_end: `AudioFrontEnd`. The front end inside it.
        sample_rate: int. The rate its samples are at.
    """

    # What `predict` and `evaluate` check before feeding images.
    preprocessing = None

    def __init__(self, path, card, trust=False):
        self.path, self.card = path, card
        try:
            self.front_end = AudioFrontEnd.from_config(card["front_end"])
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"The model card of {path!r} records a front end keras_residual "
                f"cannot read ({first_line(error)}); the card is corrupt."
            ) from None
        self.sample_rate = self.front_end.sample_rate
        loaded = load_checked_saved_model(path, trust=trust)
        serve = loaded.signatures.get(SERVE_SIGNATURE)
        inputs = signature_names(serve, "inputs") if serve is not None else ()
        if tuple(inputs) != (AUDIO_INPUT,):
            raise ValueError(
                f"{path!r} records an audio front end but its {SERVE_SIGNATURE!r} "
                f"signature takes {list(inputs)}, not [{AUDIO_INPUT!r}]; the "
                "card belongs to another model."
            )
        self._serve = serve

    @property
    def class_names(self):
        return self.card.get("class_names")

    def predict_clips(self, clips):
        """Probabilities `(clips, classes)`, one clip at a time (each of its
        own length).

        Args:
            clips: sequence of 1-D int16 arrays, at `sample_rate`.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        rows = []
        for clip in clips:
            clip = np.asarray(clip)
            if clip.ndim != 1 or clip.dtype != np.int16 or not len(clip):
                raise ValueError(
                    "Each clip must be a non-empty 1-D int16 array; received "
                    f"{clip.dtype} of shape {clip.shape}."
                )
            outputs = self._serve(**{AUDIO_INPUT: tf.constant(clip[None])})
            rows.append(
                finite_probabilities(self.path, outputs[PROBABILITIES_OUTPUT])[0]
            )
        return np.stack(rows)
