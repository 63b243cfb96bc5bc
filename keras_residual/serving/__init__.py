"""From a trained model to a served one: `export()` (SavedModel with
serving signatures, `.keras`, TFLite), model cards, running exports
(`load_predictor`) and evaluating them (`evaluate_export`).

(The folder is `serving/`, not `export/`, so that `keras_residual.export`
stays the `export()` function of 0.1.)"""

from keras_residual.serving.evaluation import evaluate_export
from keras_residual.serving.export import FORMATS
from keras_residual.serving.export import export
from keras_residual.serving.model_card import read_model_card
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.predictor import read_images
from keras_residual.utils.atomic import save_keras
