"""The rematerialised concat-BN-activation-conv of a memory-efficient
DenseNet layer (Pleiss et al. 2017)."""

import keras
from keras import ops

from keras_residual.utils.validation import check_int


@keras.saving.register_keras_serializable(package="keras_residual")
class MemoryEfficientBottleneck(keras.layers.Layer):
    """Concatenation, BN, activation and conv of a dense layer, recomputed
    in the backward pass (Pleiss et al. 2017, "Memory-Efficient
    Implementation of DenseNets").

    Takes the list of feature maps of the dense block so far and never keeps
    their concatenation: the per-channel BN statistics of a concatenation are
    the concatenated statistics of its pieces, so they (and the moving-average
    updates) are computed outside the rematerialised segment, and
    `keras.remat` recomputes concat -> BN -> activation -> conv when the
    gradient needs it. Its variables are those of the BN and conv it
    replaces, in the same order.

    Args:
        filters: int. Output channels of the convolution.
        kernel_size: int. 1 (bottleneck) or 3 (DenseNet without bottleneck).
        momentum: float. BN momentum. Defaults to `0.99`.
        epsilon: float. BN epsilon. Defaults to `1.001e-5`.
        activation: str. Activation between BN and conv. Defaults to `"relu"`.
        kernel_initializer: str. Conv kernel initializer.
            Defaults to `"glorot_uniform"`.
        rank: int. 2 for images, 1 for `(length, channels)` maps.
            Defaults to `2`.
    """

    def __init__(
        self,
        filters,
        kernel_size=1,
        momentum=0.99,
        epsilon=1.001e-5,
        activation="relu",
        kernel_initializer="glorot_uniform",
        rank=2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.momentum = momentum
        self.epsilon = epsilon
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.rank = check_int("rank", rank, minimum=1, maximum=2)
        conv_class = keras.layers.Conv2D if self.rank == 2 else keras.layers.Conv1D
        # A sublayer, so that its kernel follows the BN variables in
        # `weights`, exactly as the plain `_0_bn` + conv pair orders them.
        self.conv = conv_class(
            self.filters,
            self.kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=kernel_initializer,
            name="conv",
        )

    def build(self, input_shapes):
        channels = sum(shape[-1] for shape in input_shapes)
        self.gamma = self.add_weight((channels,), "ones", name="gamma")
        self.beta = self.add_weight((channels,), "zeros", name="beta")
        self.moving_mean = self.add_weight(
            (channels,), "zeros", name="moving_mean", trainable=False
        )
        self.moving_variance = self.add_weight(
            (channels,), "ones", name="moving_variance", trainable=False
        )
        self.conv.build(tuple(input_shapes[0][:-1]) + (channels,))

    def call(self, inputs, training=False):
        pieces = list(inputs)
        if training:
            moments = [
                ops.moments(ops.cast(p, "float32"), axes=list(range(self.rank + 1)))
                for p in pieces
            ]
            mean = ops.concatenate([m for m, _ in moments], axis=0)
            variance = ops.concatenate([v for _, v in moments], axis=0)
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum)
            )
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        activation = keras.activations.get(self.activation)
        dtype = self.compute_dtype

        def segment(gamma, beta, mean, variance, kernel, *pieces):
            x = ops.concatenate(pieces, axis=-1)
            scale = gamma * ops.rsqrt(variance + self.epsilon)
            x = x * ops.cast(scale, dtype) + ops.cast(beta - mean * scale, dtype)
            return ops.conv(
                activation(x), ops.cast(kernel, dtype), strides=1, padding="same"
            )

        # Plain tensors, not variables: under TensorFlow, a variable inside
        # `tf.recompute_grad` would get its gradient counted twice.
        return keras.remat(segment)(
            ops.copy(self.gamma),
            ops.copy(self.beta),
            ops.copy(mean),
            ops.copy(variance),
            ops.copy(self.conv.kernel),
            *pieces,
        )

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0][:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "activation": self.activation,
                "kernel_initializer": self.kernel_initializer,
                "rank": self.rank,
            }
        )
        return config
