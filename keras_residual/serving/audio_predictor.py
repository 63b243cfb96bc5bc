"""`AudioPredictor`: an export of an audio model (its card, or the `.keras`
model itself, records a front end), fed int16 samples one clip at a time;
`load_predictor` returns one for a SavedModel, `.tflite`, `.onnx` or
`.keras` audio export, and `keras-residual predict` feeds it WAV files."""

import os

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

    Args:
        path: str. A SavedModel directory, a `.tflite`, `.onnx` or
            `.keras` file.
        card: dict or None. Its model card (a `.keras` file's model
            records its own front end).
        trust: bool. Run a SavedModel whose graph uses ops outside the
            allow-list. Defaults to `False`.

    Attributes:
        front_end: `AudioFrontEnd`. The front end inside it.
        sample_rate: int. The rate its samples are at.
    """

    # What `predict` and `evaluate` check before feeding images.
    preprocessing = None

    def __init__(self, path, card, trust=False):
        self.path, self.card = path, dict(card or {})
        if os.path.isdir(path):
            self._run_clip = self._saved_model(trust)
        elif path.endswith(".tflite"):
            self._run_clip = self._tflite()
        elif path.endswith(".onnx"):
            self._run_clip = self._onnx()
        else:
            self._run_clip = self._keras()
        try:
            self.front_end = AudioFrontEnd.from_config(self.card["front_end"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"The model card of {path!r} records a front end keras_residual "
                f"cannot read ({first_line(error)}); the card is corrupt."
            ) from None
        self.sample_rate = self.front_end.sample_rate

    @property
    def class_names(self):
        return self.card.get("class_names")

    def predict_clips(self, clips):
        """Probabilities `(clips, classes)`, one clip at a time (each of its
        own length).

        Args:
            clips: sequence of 1-D int16 arrays, at `sample_rate`.
        """
        rows = []
        for clip in clips:
            clip = np.asarray(clip)
            if clip.ndim != 1 or clip.dtype != np.int16 or not len(clip):
                raise ValueError(
                    "Each clip must be a non-empty 1-D int16 array; received "
                    f"{clip.dtype} of shape {clip.shape}."
                )
            probabilities = self._run_clip(np.ascontiguousarray(clip[None]))
            rows.append(finite_probabilities(self.path, probabilities)[0])
        return np.stack(rows)

    def _check_inputs(self, inputs):
        if tuple(inputs) != (AUDIO_INPUT,):
            raise ValueError(
                f"{self.path!r} records an audio front end but its "
                f"{SERVE_SIGNATURE!r} signature takes {list(inputs)}, not "
                f"[{AUDIO_INPUT!r}]; the card belongs to another model."
            )

    def _saved_model(self, trust):
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        serve = load_checked_saved_model(self.path, trust=trust).signatures.get(
            SERVE_SIGNATURE
        )
        self._check_inputs(signature_names(serve, "inputs") if serve else ())
        return lambda batch: serve(**{AUDIO_INPUT: tf.constant(batch)})[
            PROBABILITIES_OUTPUT
        ]

    def _tflite(self):
        from keras_residual.serving.tflite_check import check_tflite_file
        from keras_residual.serving.tflite_runtime import run_signature
        from keras_residual.serving.tflite_runtime import tflite_interpreter

        check_tflite_file(self.path)  # the interpreter trusts the flatbuffer
        interpreter = tflite_interpreter(model_path=self.path)
        runner = interpreter.get_signature_runner(SERVE_SIGNATURE)
        self._check_inputs(runner.get_input_details())
        return lambda batch: run_signature(runner, **{AUDIO_INPUT: batch})[
            PROBABILITIES_OUTPUT
        ]

    def _onnx(self):
        from keras_residual.serving.onnx_export import require

        session = require("onnxruntime").InferenceSession(
            self.path, providers=["CPUExecutionProvider"]
        )
        self._check_inputs([i.name for i in session.get_inputs()])
        return lambda batch: session.run([PROBABILITIES_OUTPUT], {AUDIO_INPUT: batch})[
            0
        ]

    def _keras(self):
        import keras_residual.models  # noqa: F401  (registers the layers it uses)
        from keras_residual.core.heads import output_probabilities
        from keras_residual.utils.keras_archive import load_keras_model

        model = load_keras_model(self.path)
        self.card.setdefault("front_end", model.front_end.get_config())
        self.card.setdefault("class_names", getattr(model, "class_names", None))
        return lambda batch: output_probabilities(
            model, model.predict(batch, verbose=0)
        )
