"""From a trained model to a served one: `export()` (SavedModel with
serving signatures, `.keras`, TFLite), model cards, running exports
(`load_predictor`) and evaluating them (`evaluate_export`).

(The folder is `serving/`, not `export/`, so that `keras_residual.export`
stays the `export()` function of 0.1.)"""

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "evaluate_export": "keras_residual.serving.evaluation",
    "EvaluateOptions": "keras_residual.serving.serving_options",
    "ExportOptions": "keras_residual.serving.serving_options",
    "PredictOptions": "keras_residual.serving.serving_options",
    "FORMATS": "keras_residual.serving.export",
    "export": "keras_residual.serving.export",
    "read_model_card": "keras_residual.serving.model_card",
    "load_predictor": "keras_residual.serving.predictor",
    "read_images": "keras_residual.serving.predictor",
    "save_keras": "keras_residual.utils.atomic",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
