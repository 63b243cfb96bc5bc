"""The parameter-free "option A" shortcut of the CIFAR ResNets."""

import keras
from keras import ops

from keras_residual.utils.validation import check_int


@keras.saving.register_keras_serializable(package="keras_residual")
class ZeroPadShortcut(keras.layers.Layer):
    """The parameter-free "option A" shortcut of He et al. 2015 (CIFAR nets).

    Subsamples the input with `strides` and appends zero channels up to
    `filters`. Channels-last, 1-D or 2-D.

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
        rank = len(x.shape) - 2
        if self.strides > 1:
            x = x[(slice(None), *[slice(None, None, self.strides)] * rank)]
        extra = self.filters - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0]] * (rank + 1) + [[0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        def reduce(size):
            return None if size is None else -(-size // self.strides)

        spatial = [reduce(size) for size in input_shape[1:-1]]
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "strides": self.strides})
        return config
