"""DenseNet (concat) blocks, Huang et al. 2017, "Densely Connected
Convolutional Networks".

A dense layer is BN-ReLU-1×1 conv (bottleneck × k) then BN-ReLU-3×3 conv
(k), concatenated onto its input; a transition is BN-ReLU-1×1 conv with
compression θ, then a 2×2 average pool. Names and layers follow
keras.applications DenseNet: `{block}_0_bn`, `_0_relu`, `_1_conv`, `_1_bn`,
`_1_relu`, `_2_conv`, `_concat`; `pool{n}_bn`, `_relu`, `_conv`, `_pool`.
"""

import keras
from keras import ops

from keras_residual.blocks.base import register_block
from keras_residual.stems import register_stem
from keras_residual.validation import check_float
from keras_residual.validation import check_int


def bottleneck_width_of(args):
    return check_int("bottleneck", args.get("bottleneck", 4), minimum=0)


def compression_of(args):
    return check_float("compression", args.get("compression", 0.5), 0.0, 1.0,
                       min_inclusive=False)


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
    """

    def __init__(self, filters, kernel_size=1, momentum=0.99, epsilon=1.001e-5,
                 activation="relu", kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.momentum = momentum
        self.epsilon = epsilon
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        # A sublayer, so that its kernel follows the BN variables in
        # `weights`, exactly as the plain `_0_bn` + conv pair orders them.
        self.conv = keras.layers.Conv2D(
            self.filters, self.kernel_size, padding="same", use_bias=False,
            kernel_initializer=kernel_initializer, name="conv")

    def build(self, input_shapes):
        channels = sum(shape[-1] for shape in input_shapes)
        self.gamma = self.add_weight((channels,), "ones", name="gamma")
        self.beta = self.add_weight((channels,), "zeros", name="beta")
        self.moving_mean = self.add_weight(
            (channels,), "zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(
            (channels,), "ones", name="moving_variance", trainable=False)
        self.conv.build(tuple(input_shapes[0][:-1]) + (channels,))

    def call(self, inputs, training=False):
        pieces = list(inputs)
        if training:
            moments = [ops.moments(ops.cast(p, "float32"), axes=[0, 1, 2])
                       for p in pieces]
            mean = ops.concatenate([m for m, _ in moments], axis=0)
            variance = ops.concatenate([v for _, v in moments], axis=0)
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum
                + variance * (1.0 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        activation = keras.activations.get(self.activation)
        dtype = self.compute_dtype

        def segment(gamma, beta, mean, variance, kernel, *pieces):
            x = ops.concatenate(pieces, axis=-1)
            scale = gamma * ops.rsqrt(variance + self.epsilon)
            x = x * ops.cast(scale, dtype) + ops.cast(beta - mean * scale, dtype)
            return ops.conv(activation(x), ops.cast(kernel, dtype),
                            strides=1, padding="same")

        # Plain tensors, not variables: under TensorFlow, a variable inside
        # `tf.recompute_grad` would get its gradient counted twice.
        return keras.remat(segment)(
            ops.copy(self.gamma), ops.copy(self.beta), ops.copy(mean),
            ops.copy(variance), ops.copy(self.conv.kernel), *pieces)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0][:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
        })
        return config


def dense_pieces(x):
    """The feature maps whose concatenation is `x`, if a memory-efficient
    dense layer made `x`; else `[x]`."""
    operation = x._keras_history[0]
    if not getattr(operation, "_dense_pieces_concat", False):
        return [x]
    return list(operation._inbound_nodes[0].input_tensors)


@register_block("dense", expansion=1, merge="concat", shortcuts=("none",),
                strides=(1,), options=("bottleneck", "memory_efficient"),
                description="DenseNet layer: BN-ReLU-1x1 (4k), BN-ReLU-3x3 "
                "(k), concatenated (Huang et al. 2017).")
def dense_layer(x, call):
    """One dense layer; the stage's `filters` is the growth rate k.

    Block args: `bottleneck` (int, 4: the 1×1 conv has `bottleneck * k`
    filters; 0 drops it, as in the original DenseNet-40) and
    `memory_efficient` (bool, False: with True, `{name}_remat`, a
    `MemoryEfficientBottleneck`, replaces `_0_bn`, `_0_relu` and the first
    conv, and the running concatenations are never formed).
    """
    layers, name = call.layers, call.name
    growth = check_int("growth_rate", call.filters, minimum=1)
    bottleneck = bottleneck_width_of(call.args)
    # The first conv: the 1x1 bottleneck, or the 3x3 itself without one.
    first_filters = bottleneck * growth if bottleneck else growth
    first_kernel, first_name = (1, "_1_conv") if bottleneck else (3, "_2_conv")
    memory_efficient = call.arg("memory_efficient", False, (True, False))
    if memory_efficient:
        pieces = dense_pieces(x)
        y = MemoryEfficientBottleneck(
            first_filters, kernel_size=first_kernel,
            momentum=layers.bn_momentum, epsilon=layers.bn_epsilon,
            activation=layers.activation,
            kernel_initializer=layers.kernel_initializer,
            name=f"{name}_remat",
        )(pieces)
    else:
        y = layers.act(layers.bn(x, f"{name}_0_bn"), f"{name}_0")
        y = layers.conv(y, first_filters, first_kernel, f"{name}{first_name}",
                        padding="same")
    if bottleneck:
        y = layers.act(layers.bn(y, f"{name}_1_bn"), f"{name}_1")
        y = layers.conv(y, growth, 3, f"{name}_2_conv", padding="same")
    concat = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")
    if not memory_efficient:
        return concat([x, y])
    # Joins every piece at once: only the last layer's concatenation feeds
    # anything (the transition), so no running concatenation is formed.
    concat._dense_pieces_concat = True
    return concat(pieces + [y])


@register_block("dense_transition", expansion=1, merge="none",
                shortcuts=("none",),
                description="DenseNet transition: BN-ReLU-1x1 conv with "
                "compression, 2x2 average pool.")
def dense_transition(x, call):
    """Transition between dense stages. Args: `compression` (float in
    (0, 1], 0.5), `stride` (int, 2)."""
    layers, name = call.layers, call.name
    compression = compression_of(call.args)
    stride = call.stride
    y = layers.act(layers.bn(x, f"{name}_bn"), f"{name}")
    y = layers.conv(y, int(x.shape[-1] * compression), 1, f"{name}_conv")
    return keras.layers.AveragePooling2D(stride, strides=stride,
                                         name=f"{name}_pool")(y)


@register_stem("densenet", stride=4, description=(
    "keras.applications DenseNet stem, with its paddings named."))
def densenet_stem(x, stem, layers):
    """7×7/2 conv, BN, ReLU and a 3×3/2 max pool named `pool1`, as in
    keras.applications; the paddings it leaves unnamed are `conv1_pad` and
    `pool1_pad` here."""
    x = keras.layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.conv(x, stem.filters, 7, "conv1_conv", strides=2)
    x = layers.act(layers.bn(x, "conv1_bn"), "conv1")
    x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
