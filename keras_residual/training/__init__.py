"""Training with plain `fit`: the recipe (optimizer, schedule, loss,
callbacks), precision and XLA choices, data parallelism and `train()`."""

from keras_residual.training.callbacks import BestModelCheckpoint
from keras_residual.training.callbacks import NonFiniteLossGuard
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.losses import ClassificationCrossentropy
from keras_residual.training.precision import resolve_precision
from keras_residual.training.precision import set_precision
from keras_residual.training.recipe import Recipe
from keras_residual.training.recipe_presets import get_recipe
from keras_residual.training.recipe_presets import list_recipes
from keras_residual.training.recipe_presets import register_recipe
from keras_residual.training.train import TrainingDiverged
from keras_residual.training.train import train
