"""Padding that max pooling never picks, as PyTorch's padded `MaxPool2d`."""

import keras

from keras_residual.utils.validation import check_int


@keras.saving.register_keras_serializable(package="keras_residual")
class PoolPadding2D(keras.layers.Layer):
    """Pads height and width with `-inf`, so that a following
    `MaxPooling2D` ignores the padding (PyTorch's `MaxPool2d(padding=p)`).
    `ZeroPadding2D` is the same only for non-negative inputs (after a ReLU).

    Args:
        padding: int. Rows and columns added on every side. Defaults to `1`.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_int("padding", padding, minimum=0)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(
            inputs, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=float("-inf")
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
