"""Training with plain `fit`: the recipe (optimizer, schedule, loss,
callbacks), precision and XLA choices, data parallelism and `train()`.

Names are imported when first used, so the command line's option groups
(`keras_residual.training.options`) load without TensorFlow."""

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "BestModelCheckpoint": "keras_residual.training.callbacks",
    "NonFiniteLossGuard": "keras_residual.training.callbacks",
    "ResumableBackup": "keras_residual.training.callbacks",
    "ClassificationCrossentropy": "keras_residual.training.losses",
    "resolve_precision": "keras_residual.training.precision",
    "set_precision": "keras_residual.training.precision",
    "Recipe": "keras_residual.training.recipe",
    "get_recipe": "keras_residual.training.recipe_presets",
    "list_recipes": "keras_residual.training.recipe_presets",
    "register_recipe": "keras_residual.training.recipe_presets",
    "TrainingDiverged": "keras_residual.training.train",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
