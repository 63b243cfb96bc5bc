"""`keras_residual.layers.BatchNormalization`: Keras' `BatchNormalization`,
with one fused kernel for training steps on TensorFlow.

Keras 3 computes a training-mode BatchNorm from separate ops (mean,
squared difference, mean, multiply, add) on every backend. On TensorFlow's
CPU that, with the gradients' `Tile`s, took about 40% of a ResNet20
training step in float32, as much as all the convolutions
(`python -m benchmarks.profile_training`), where PyTorch spends 12% in its
fused kernels. Here a training step on TensorFlow runs TensorFlow's own
`FusedBatchNormV3` (one kernel forward, one backward) instead. Everything
else, the JAX backend and inference included, is the parent's code, and
the layer's arguments, variables and config are exactly
`keras.layers.BatchNormalization`'s. It keeps that class name, because
Keras keys a `.keras` or `.weights.h5` file's variables by the snake-cased
class name (`batch_normalization_3/vars`): files saved before this layer
existed, and keras.applications files, load unchanged.
"""

import keras

FUSED_DTYPES = ("float32", "bfloat16", "float16")


@keras.saving.register_keras_serializable(package="keras_residual")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with a fused kernel on
    TensorFlow (4-D channels-last inputs). It takes the same arguments."""

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only reached on the TensorFlow backend

        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones((channels,), "float32")
        offset = self.beta if self.center else tf.zeros((channels,), "float32")
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            tf.cast(scale, "float32"),
            tf.cast(offset, "float32"),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the unbiased (n - 1) variance; Keras' moving
        # variance averages the biased one.
        count = tf.cast(tf.size(inputs) // channels, "float32")
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(
            self.moving_mean * momentum
            + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum)
        )
        self.moving_variance.assign(
            self.moving_variance * momentum
            + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum)
        )
        return tf.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, training, mask):
        """A training step of a trainable layer, on TensorFlow, over the
        last axis of a 4-D input, unmasked and not synchronized."""
        return (
            training is True
            and self.trainable
            and mask is None
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and not self.synchronized
            and keras.backend.standardize_dtype(inputs.dtype) in FUSED_DTYPES
        )
