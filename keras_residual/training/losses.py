"""A classification loss that takes sparse or one-hot labels, with label
smoothing either way (Keras' `SparseCategoricalCrossentropy` has none)."""

import keras
from keras import ops

from keras_residual.utils.validation import check_float


@keras.saving.register_keras_serializable(package="keras_residual")
class ClassificationCrossentropy(keras.losses.Loss):
    """Cross-entropy for integer or one-hot/soft labels.

    Integer labels (shape `(batch,)` or `(batch, 1)`) are one-hot encoded;
    labels with the predictions' shape are used as they are (e.g. after
    MixUp). Label smoothing then applies in both cases.

    Args:
        from_logits: bool. Whether predictions are logits rather than
            probabilities. Defaults to `False`.
        label_smoothing: float. In `[0, 1)`. Defaults to `0.0`.
        reduction: str. Keras loss reduction. Defaults to
            `"sum_over_batch_size"`.
        name: str. Defaults to `"classification_crossentropy"`.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        reduction="sum_over_batch_size",
        name="classification_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        check_float(
            "label_smoothing",
            label_smoothing,
            minimum=0.0,
            maximum=1.0,
            max_inclusive=False,
        )
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1]
        if (
            len(y_true.shape) == len(y_pred.shape)
            and y_true.shape[-1] == classes
            and classes != 1
        ):
            target = ops.cast(y_true, y_pred.dtype)
        else:
            labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            target = ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )
        return config
