"""Padding that max pooling never picks, as PyTorch's padded `MaxPool2d`."""

import keras

from keras_residual.utils.validation import check_int


@keras.saving.register_keras_serializable(package="keras_residual")
class PoolPadding2D(keras.layers.Layer):
    """Pads every spatial axis (height and width, or the length of a 1-D
    map) with `-inf`, so that a following max pool ignores the padding
    (PyTorch's `MaxPool2d(padding=p)`). `ZeroPadding2D` is the same only
    for non-negative inputs (after a ReLU).

    Args:
        padding: int. Rows and columns added on every side. Defaults to `1`.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_int("padding", padding, minimum=0)

    def call(self, inputs):
        p = self.padding
        spatial = [[p, p]] * (len(inputs.shape) - 2)
        return keras.ops.pad(
            inputs, [[0, 0], *spatial, [0, 0]], constant_values=float("-inf")
        )

    def compute_output_shape(self, input_shape):
        grow = 2 * self.padding
        spatial = [None if size is None else size + grow for size in input_shape[1:-1]]
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
