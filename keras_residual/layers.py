"""Custom layers used by the blocks. Backend-agnostic (`keras.ops` only)."""

import keras
from keras import ops

from keras_residual.validation import check_float
from keras_residual.validation import check_int


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


@keras.saving.register_keras_serializable(package="keras_residual")
class ZeroPadShortcut(keras.layers.Layer):
    """The parameter-free "option A" shortcut of He et al. 2015 (CIFAR nets).

    Subsamples the input with `strides` and appends zero channels up to
    `filters`. Channels-last only.

    Args:
        filters: int. Output channels; must be at least the input's.
        strides: int. Spatial subsampling factor. Defaults to `1`.
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.strides = check_int("strides", strides, minimum=1)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels > self.filters:
            raise ValueError(
                f"ZeroPadShortcut `filters` must be >= the input channels; "
                f"received filters={self.filters} for {channels} channels."
            )

    def call(self, inputs):
        x = inputs
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def reduce(size):
            return None if size is None else -(-size // self.strides)

        return (batch, reduce(height), reduce(width), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "strides": self.strides})
        return config
