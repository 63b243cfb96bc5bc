"""`LayerFactory`: the named layers every block builds with.

One factory serves 1-D `(batch, length, channels)` and 2-D `(batch, height,
width, channels)` tensors: each method reads the rank of its input and
makes `Conv1D` or `Conv2D`, `ZeroPadding1D` or `ZeroPadding2D`, and so on,
so a block written once builds for images, audio and time series (and token
sequences, which are 1-D maps). The norm is the spec's choice: batch
(keras.applications), layer or group normalization. Layer names do not
depend on the norm (a block's `_bn` layer keeps its name), so taps and
weight converters see the same names.
"""

import dataclasses
import math

import keras

from keras_residual.blocks.weight_budget import WeightBudget
from keras_residual.blocks.weight_budget import conv_kernel_shape
from keras_residual.layers.batch_norm import BatchNormalization
from keras_residual.layers.grouped_conv import GroupedConv1D
from keras_residual.layers.grouped_conv import GroupedConv2D
from keras_residual.layers.padding import PoolPadding2D
from keras_residual.utils.validation import check_choice

NORMS = ("batch", "layer", "group")
POOL_KINDS = ("avg", "max")

_CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D}
# Grouped convolutions train at native speed on TensorFlow through these.
_GROUPED_CONV = {1: GroupedConv1D, 2: GroupedConv2D}
_ZERO_PAD = {1: keras.layers.ZeroPadding1D, 2: keras.layers.ZeroPadding2D}
_POOL = {
    ("max", 1): keras.layers.MaxPooling1D,
    ("max", 2): keras.layers.MaxPooling2D,
    ("avg", 1): keras.layers.AveragePooling1D,
    ("avg", 2): keras.layers.AveragePooling2D,
}
_GLOBAL_POOL = {
    ("max", 1): keras.layers.GlobalMaxPooling1D,
    ("max", 2): keras.layers.GlobalMaxPooling2D,
    ("avg", 1): keras.layers.GlobalAveragePooling1D,
    ("avg", 2): keras.layers.GlobalAveragePooling2D,
}


def spatial_rank(x):
    """1 for `(batch, length, channels)`, 2 for `(batch, height, width,
    channels)`; anything else raises `ValueError`.

    Args:
        x: tensor. A channels-last feature map or token sequence.
    """
    rank = len(x.shape) - 2
    if rank not in (1, 2):
        raise ValueError(
            "keras_residual blocks take (batch, length, channels) or (batch, "
            f"height, width, channels) tensors; received shape {tuple(x.shape)}."
        )
    return rank


@dataclasses.dataclass(frozen=True)
class LayerFactory:
    """Makes the named convolution, norm, pooling and activation layers of a
    spec, for 1-D and 2-D inputs alike.

    Args:
        activation: str. Activation name.
        use_bias: bool. Default `use_bias` of convolutions.
        kernel_initializer: str. Initializer of convolution kernels.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. Epsilon of every norm.
        norm: str. `"batch"`, `"layer"` or `"group"`. Defaults to `"batch"`.
        norm_groups: int. Groups of a group norm (the greatest common
            divisor with the channels where they do not divide).
            Defaults to `32`.
        default_size: int. The spec's default input size: layers stored at
            it (position embeddings) are sized from it. Defaults to `224`.
        token_layout: dict. Written by whatever turns a map into tokens:
            `grid` (the token grid) and `prefix_tokens` (class tokens before
            it), read by later blocks, heads and feature taps. Fresh for
            every model built.
        weight_budget: `WeightBudget`. The weights the model may still
            create: every kernel is charged before it is allocated. Fresh
            for every model built; without a limit by default.
    """

    activation: str = "relu"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1.001e-5
    norm: str = "batch"
    norm_groups: int = 32
    default_size: int = 224
    token_layout: dict = dataclasses.field(default_factory=dict, compare=False)
    weight_budget: WeightBudget = dataclasses.field(
        default_factory=WeightBudget, compare=False
    )

    @classmethod
    def from_spec(cls, spec, weight_limit=None):
        """The factory for a `ModelSpec`'s shared settings.

        Args:
            spec: `ModelSpec`. Supplies `activation`, `use_bias`,
                `kernel_initializer`, `bn_momentum`, `bn_epsilon`, `norm`,
                `norm_groups` and `default_size`.
            weight_limit: int or None. The most weights the model may
                create. Defaults to `None` (no limit).
        """
        return cls(
            weight_budget=WeightBudget(weight_limit),
            activation=spec.activation,
            use_bias=spec.use_bias,
            kernel_initializer=spec.kernel_initializer,
            bn_momentum=spec.bn_momentum,
            bn_epsilon=spec.bn_epsilon,
            norm=spec.norm,
            norm_groups=spec.norm_groups,
            default_size=spec.default_size,
        )

    def conv(
        self,
        x,
        filters,
        kernel_size,
        name,
        strides=1,
        padding="valid",
        use_bias=None,
        zero_init=False,
        bias_initializer="zeros",
        groups=1,
    ):
        """Applies a named `Conv1D` or `Conv2D` (by the rank of `x`).

        Args:
            x: tensor. The input, channels last.
            filters: int. Output channels.
            kernel_size: int. The kernel size along every spatial axis.
            name: str. The layer name; use the block's `call.name` prefix.
            strides: int. The stride. Defaults to `1`.
            padding: str. `"valid"` or `"same"`. Defaults to `"valid"`.
            use_bias: bool or None. Defaults to the spec's `use_bias`.
            zero_init: bool. Start the kernel at zero (the last conv of a
                residual branch). Defaults to `False`.
            bias_initializer: str or initializer. Defaults to `"zeros"`.
            groups: int. Grouped convolution: `groups` independent
                convolutions over as many slices of the channels (ResNeXt's
                cardinality). Defaults to `1`.
        """
        rank = spatial_rank(x)
        self.charge(
            conv_kernel_shape(kernel_size, rank, x.shape[-1], filters, groups), name
        )
        classes = _GROUPED_CONV if groups > 1 else _CONV
        return classes[rank](
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            groups=groups,
            use_bias=self.use_bias if use_bias is None else use_bias,
            kernel_initializer="zeros" if zero_init else self.kernel_initializer,
            bias_initializer=bias_initializer,
            name=name,
        )(x)

    def charge(self, shape, name):
        """Charges a variable of `shape` that layer `name` is about to
        create to the model's weight budget (a `ValueError` past its
        limit, before anything is allocated).

        Args:
            shape: tuple of int. The variable's shape.
            name: str. The layer's name, for the message.
        """
        self.weight_budget.charge(shape, name)

    def bn(self, x, name, zero_init=False, kind=None):
        """Applies the spec's norm over the channel axis: this package's
        `BatchNormalization` (fused for training on TensorFlow),
        `LayerNormalization` or `GroupNormalization`.

        Args:
            x: tensor. The input, channels last.
            name: str. The layer name, e.g. `f"{call.name}_1_bn"`.
            zero_init: bool. Start gamma at zero, so the branch starts as
                the identity. Defaults to `False`.
            kind: str or None. A norm other than the spec's (a Transformer
                block takes `"layer"`). Defaults to the spec's `norm`.
        """
        kind = check_choice("norm", kind or self.norm, NORMS)
        gamma = "zeros" if zero_init else "ones"
        if kind == "layer":
            return keras.layers.LayerNormalization(
                epsilon=self.bn_epsilon, gamma_initializer=gamma, name=name
            )(x)
        if kind == "group":
            return keras.layers.GroupNormalization(
                groups=math.gcd(int(x.shape[-1]), self.norm_groups),
                epsilon=self.bn_epsilon,
                gamma_initializer=gamma,
                name=name,
            )(x)
        return BatchNormalization(
            axis=-1,
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            gamma_initializer=gamma,
            name=name,
        )(x)

    def act(self, x, prefix=None, name=None, activation=None):
        """Applies the spec's activation as a named `Activation` layer.

        Args:
            x: tensor. The input.
            prefix: str or None. Names the layer `{prefix}_{activation}`
                (keras.applications: `conv2_block1_1_relu`).
            name: str or None. The full layer name instead (e.g.
                `conv2_block1_out`). Defaults to `None`.
            activation: str or None. Another activation than the spec's
                (an MLP's `"gelu"`). Defaults to `None`.
        """
        activation = activation or self.activation
        return keras.layers.Activation(
            activation, name=name or f"{prefix}_{activation}"
        )(x)

    def pad(self, x, padding, name, value="zeros"):
        """Pads every spatial axis by `padding` on both sides.

        Args:
            x: tensor. The input, channels last.
            padding: int. Entries added before and after on each axis.
            name: str. The layer name.
            value: str. `"zeros"`, or `"-inf"` (padding a max pool ignores,
                as PyTorch's). Defaults to `"zeros"`.
        """
        if value == "-inf":
            return PoolPadding2D(padding, name=name)(x)
        rank = spatial_rank(x)
        pads = (padding, padding) if rank == 1 else ((padding, padding),) * rank
        return _ZERO_PAD[rank](pads, name=name)(x)

    def pool(self, x, pool_size, name, strides=None, padding="valid", kind="max"):
        """Applies a named max or average pooling over the spatial axes.

        Args:
            x: tensor. The input, channels last.
            pool_size: int. The window along every spatial axis.
            name: str. The layer name.
            strides: int or None. Defaults to `pool_size`.
            padding: str. `"valid"` or `"same"` (an average pool then
                divides by the entries inside the input). Defaults to
                `"valid"`.
            kind: str. `"max"` or `"avg"`. Defaults to `"max"`.
        """
        check_choice("kind", kind, POOL_KINDS)
        return _POOL[kind, spatial_rank(x)](
            pool_size, strides=strides, padding=padding, name=name
        )(x)

    def global_pool(self, x, name, kind="avg", keepdims=False, dtype=None):
        """Pools every spatial position (or token) into one vector.

        Args:
            x: tensor. The input, channels last.
            name: str. The layer name.
            kind: str. `"avg"` or `"max"`. Defaults to `"avg"`.
            keepdims: bool. Keep the spatial axes with size 1.
                Defaults to `False`.
            dtype: str or None. The layer's dtype (heads pool in float32).
                Defaults to `None`.
        """
        check_choice("kind", kind, POOL_KINDS)
        return _GLOBAL_POOL[kind, spatial_rank(x)](
            keepdims=keepdims, name=name, dtype=dtype
        )(x)

    def dense(self, x, units, name, use_bias=True, activation=None):
        """Applies a named `Dense` over the last axis.

        Args:
            x: tensor. The input.
            units: int. Output features.
            name: str. The layer name.
            use_bias: bool. Defaults to `True`.
            activation: str or None. Defaults to `None`.
        """
        self.charge((x.shape[-1], units), name)
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            name=name,
        )(x)
