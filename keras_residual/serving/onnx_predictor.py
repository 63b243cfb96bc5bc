"""Running an `.onnx` export with ONNX Runtime (no TensorFlow needed)."""

import numpy as np

from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.onnx_export import require
from keras_residual.serving.predictor_base import Predictor
from keras_residual.serving.predictor_base import check_signatures
from keras_residual.serving.predictor_base import finite_probabilities
from keras_residual.utils.validation import first_line

ONNX_DTYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32"}


class ONNXPredictor(Predictor):
    """An `.onnx` file from `keras_residual.export`, on ONNX Runtime's CPU
    execution provider.

    Its one graph is the `serving_default` signature, so an export with
    preprocessing inside takes uint8 images only: `predict_preprocessed`
    needs an export with `preprocessing="none"`.
    """

    def __init__(self, path, card):
        onnxruntime = require("onnxruntime")
        super().__init__(path, card)
        try:
            self._session = onnxruntime.InferenceSession(
                path, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ONNX Runtime raises its own types
            raise ValueError(
                f"{path!r} is not a readable ONNX model ({type(error).__name__}"
                f": {first_line(error)})."
            ) from None
        inputs = self._session.get_inputs()
        outputs = [output.name for output in self._session.get_outputs()]
        check_signatures(
            path,
            {SERVE_SIGNATURE: ([i.name for i in inputs], outputs)},
            required=(SERVE_SIGNATURE,),
        )
        self._dtype = ONNX_DTYPES.get(inputs[0].type)
        if self._dtype is None:
            raise ValueError(
                f"{path!r} takes {inputs[0].type} images; an export of this "
                f"package takes one of {sorted(ONNX_DTYPES)}."
            )
        if not card:  # read what the card would say from the graph
            channels = inputs[0].shape[-1]
            self.channels = channels if isinstance(channels, int) else None
            self.preprocessing = "embedded" if self._dtype == "uint8" else None

    @property
    def takes_preprocessed(self):
        """Whether the graph takes preprocessed float input."""
        return self._dtype == "float32"

    def predict_images(self, images):
        """Probabilities `(batch, classes)` for images, through `serving_default`.

        Args:
            images: array. See `Predictor.predict_images`.
        """
        batch = self.check_images(images, self._dtype)
        return self._run(batch)

    def predict_preprocessed(self, inputs):
        """Probabilities `(batch, classes)` for preprocessed inputs.

        Args:
            inputs: array. See `Predictor.predict_preprocessed`.
        """
        if not self.takes_preprocessed:
            raise ValueError(
                f"{self.path!r} embeds its preprocessing, so it takes uint8 "
                "images only; export with preprocessing='none' for an ONNX "
                "graph that takes preprocessed float input."
            )
        return self._run(self.check_images(inputs, "float32"))

    def _run(self, batch):
        (probabilities,) = self._session.run(
            [PROBABILITIES_OUTPUT], {IMAGES_INPUT: np.ascontiguousarray(batch)}
        )
        return finite_probabilities(self.path, probabilities)
