"""Stochastic depth (`DropPath`), the regulariser of deep residual branches."""

import keras
from keras import ops

from keras_residual.utils.validation import check_float


@keras.saving.register_keras_serializable(package="keras_residual")
class DropPath(keras.layers.Layer):
    """Stochastic depth: drops a residual branch per sample while training.

    Kept samples are scaled by `1 / (1 - rate)`, so inference is the identity
    (Huang et al. 2016, "Deep Networks with Stochastic Depth").

    Args:
        rate: float. Probability of dropping the branch, in `[0, 1)`.
        seed: int or None. Seed of the random generator. Defaults to `None`.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, 0.0, 1.0, max_inclusive=False)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        batch = ops.shape(inputs)[0]
        mask_shape = (batch,) + (1,) * (len(inputs.shape) - 1)
        random = keras.random.uniform(
            mask_shape, seed=self.seed_generator, dtype=inputs.dtype
        )
        mask = ops.cast(random < keep, inputs.dtype)
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
