"""The block protocol: registry entries, per-call context and shared pieces.

A block is a function `fn(x, call) -> tensor` registered once with
`register_block`. The builder passes a `BlockCall` describing the one block
to make; the function builds its layers with `call.layers` (so every block
shares the same convolution and BatchNormalization settings) and names every
layer with the `call.name` prefix.
"""

import dataclasses

import keras

from keras_residual.blocks.attention import attend
from keras_residual.layers.batch_norm import BatchNormalization
from keras_residual.layers.drop_path import DropPath
from keras_residual.layers.shortcuts import ZeroPadShortcut
from keras_residual.utils.registry import Registry
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

MERGES = ("add", "gate", "concat", "none")

BLOCKS = Registry("block", "block")


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """What the builder must know about a registered block.

    Args:
        name: str. The registered name.
        fn: callable. `fn(x, call)` returns the block's output tensor.
        expansion: int. Output channels are `filters * expansion`.
        merge: str. How the block merges its branches: `"add"` (residual),
            `"gate"` (highway), `"concat"` (DenseNet) or `"none"` (plain).
        shortcuts: tuple of str. Shortcut kinds the block supports.
        strides: tuple of int. Strides the block supports.
        description: str. One line for `list_blocks()`.
        options: tuple of str. Block args that `build(...)` accepts as
            keywords (e.g. `gate_bias`) and routes into the stages (or the
            transitions) using this block.
    """

    name: str
    fn: object
    expansion: int = 1
    merge: str = "add"
    shortcuts: tuple = ("projection", "zero_pad")
    strides: tuple = (1, 2)
    description: str = ""
    options: tuple = ()


def register_block(
    name,
    fn=None,
    *,
    expansion=1,
    merge="add",
    shortcuts=("projection", "zero_pad"),
    strides=(1, 2),
    description="",
    options=(),
    overwrite=False,
):
    """Registers a block so that any stage of any spec can use it.

    Usable as a decorator (`@register_block("se_basic", expansion=1)`) or as
    a call (`register_block("se_basic", se_basic_fn)`).

    Args:
        name: str. The name specs refer to.
        fn: callable or None. `fn(x, call) -> tensor`; every layer it makes
            must be named with the `call.name` prefix. Defaults to `None`
            (decorator use).
        expansion: int. Output channels per unit of `filters`. Defaults to `1`.
        merge: str. One of `"add"`, `"gate"`, `"concat"`, `"none"`.
            Defaults to `"add"`.
        shortcuts: tuple of str. Supported shortcut kinds.
            Defaults to `("projection", "zero_pad")`.
        strides: tuple of int. Supported strides. Defaults to `(1, 2)`.
        description: str. One line shown by `list_blocks()`. Defaults to `""`.
        options: tuple of str. Block args accepted as `build()` keywords.
            Defaults to `()`.
        overwrite: bool. Replace a block of the same name. Defaults to `False`.
    """

    def decorator(function):
        if not callable(function):
            raise TypeError(
                f"`fn` must be callable as fn(x, call); received {function!r}."
            )
        check_int("expansion", expansion, minimum=1)
        check_choice("merge", merge, MERGES)
        for kind in shortcuts:
            check_choice("shortcuts", kind, ("projection", "zero_pad", "none"))
        info = BlockInfo(
            name=name,
            fn=function,
            expansion=expansion,
            merge=merge,
            shortcuts=tuple(shortcuts),
            strides=tuple(check_int("strides", s, minimum=1) for s in strides),
            description=description or (function.__doc__ or "").strip().split("\n")[0],
            options=tuple(options),
        )
        BLOCKS.register(name, info, overwrite=overwrite)
        return function

    if fn is not None:
        return decorator(fn)
    return decorator


def get_block(name):
    """Returns the `BlockInfo` registered under `name`.

    Args:
        name: str. A registered block name; unknown names raise `ValueError`
            with close matches.
    """
    return BLOCKS.get(name)


def list_blocks():
    """Returns `{name: one-line description}` for every registered block."""
    return {name: info.description for name, info in BLOCKS.items()}


@dataclasses.dataclass(frozen=True)
class LayerFactory:
    """Makes the named convolution, BN and activation layers of a spec.

    Args:
        activation: str. Activation name.
        use_bias: bool. Default `use_bias` of convolutions.
        kernel_initializer: str. Initializer of convolution kernels.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon.
    """

    activation: str = "relu"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1.001e-5

    @classmethod
    def from_spec(cls, spec):
        """The factory for a `ModelSpec`'s shared settings.

        Args:
            spec: `ModelSpec`. Supplies `activation`, `use_bias`,
                `kernel_initializer`, `bn_momentum` and `bn_epsilon`.
        """
        return cls(
            activation=spec.activation,
            use_bias=spec.use_bias,
            kernel_initializer=spec.kernel_initializer,
            bn_momentum=spec.bn_momentum,
            bn_epsilon=spec.bn_epsilon,
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
        """Applies a named `Conv2D` to `x` and returns its output.

        Args:
            x: tensor. The input, channels last.
            filters: int. Output channels.
            kernel_size: int or tuple. The kernel size.
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
        return keras.layers.Conv2D(
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

    def bn(self, x, name, zero_init=False):
        """Applies a named `BatchNormalization` over the channel axis (this
        package's subclass, fused for training on TensorFlow).

        Args:
            x: tensor. The input, channels last.
            name: str. The layer name, e.g. `f"{call.name}_1_bn"`.
            zero_init: bool. Start gamma at zero, so the branch starts as
                the identity. Defaults to `False`.
        """
        return BatchNormalization(
            axis=-1,
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            gamma_initializer="zeros" if zero_init else "ones",
            name=name,
        )(x)

    def act(self, x, prefix=None, name=None):
        """Applies the spec's activation as a named `Activation` layer.

        Args:
            x: tensor. The input.
            prefix: str or None. Names the layer `{prefix}_{activation}`
                (keras.applications: `conv2_block1_1_relu`).
            name: str or None. The full layer name instead (e.g.
                `conv2_block1_out`). Defaults to `None`.
        """
        return keras.layers.Activation(
            self.activation, name=name or f"{prefix}_{self.activation}"
        )(x)


@dataclasses.dataclass(frozen=True)
class BlockCall:
    """Everything one block needs to build itself.

    Args:
        name: str. Prefix of every layer of the block, e.g. `conv3_block1`.
        filters: int. The stage width.
        stride: int. The block's stride.
        shortcut: str. The stage's shortcut kind.
        drop_rate: float. Stochastic-depth rate of this block.
        zero_init: bool. Zero-initialise the end of the residual branch.
        layers: `LayerFactory`. Makes conv/BN/activation layers.
        args: dict. Block-specific options from the stage spec.
        expansion: int. The block's registered expansion.
        stage_state: dict. Scratch shared by the blocks of one stage,
            fresh for every stage; a block that carries
            more than a tensor to the next block keeps it here (the
            memory-efficient DenseNet keeps its list of feature maps).
            Defaults to `{}`.
    """

    name: str
    filters: int
    stride: int
    shortcut: str
    drop_rate: float
    zero_init: bool
    layers: LayerFactory
    args: dict
    expansion: int = 1
    stage_state: dict = dataclasses.field(default_factory=dict)

    @property
    def out_channels(self):
        """Output channels: `filters * expansion`."""
        return self.filters * self.expansion

    def arg(self, key, default, allowed=None):
        """Reads a block-specific option, checking it against `allowed`.

        Args:
            key: str. The option's name in the stage's `args`.
            default: object. The value when the stage does not set it.
            allowed: iterable or None. The accepted values. Defaults to
                `None` (anything).
        """
        value = self.args.get(key, default)
        if allowed is not None:
            check_choice(f"args[{key!r}]", value, allowed)
        return value


def changes_shape(x, call):
    """Whether the block changes the resolution or the channel count.

    Args:
        x: tensor. The block input.
        call: `BlockCall`. The block being built.
    """
    return call.stride != 1 or x.shape[-1] != call.out_channels


def shortcut_path(x, call, projection_input=None, norm=True):
    """The shortcut of a residual block.

    Identity where the shape is kept; otherwise option A (`"zero_pad"`:
    `{name}_0_pad`) or option B (`"projection"`: `{name}_0_conv` and, when
    `norm`, `{name}_0_bn`).

    Args:
        x: tensor. The block input.
        call: `BlockCall`.
        projection_input: tensor or None. What the projection convolves
            (pre-activation blocks pass their pre-activated input).
            Defaults to `x`.
        norm: bool. Whether the projection has a BN. Defaults to `True`.
    """
    if not changes_shape(x, call):
        return x
    if call.shortcut == "zero_pad":
        return ZeroPadShortcut(
            call.out_channels, call.stride, name=f"{call.name}_0_pad"
        )(x)
    if call.shortcut != "projection":
        raise ValueError(
            f"Block {call.name!r} changes shape ({x.shape[-1]} -> "
            f"{call.out_channels} channels, stride {call.stride}) but its "
            f"`shortcut` is {call.shortcut!r}; use 'projection' or 'zero_pad'."
        )
    source = x if projection_input is None else projection_input
    y = call.layers.conv(
        source, call.out_channels, 1, f"{call.name}_0_conv", strides=call.stride
    )
    if norm:
        y = call.layers.bn(y, f"{call.name}_0_bn")
    return y


def residual_add(call, shortcut, branch, name=None):
    """Adds `branch` to `shortcut`, after the block's channel attention (see
    `blocks.attention`) and dropping the branch with `call.drop_rate`.

    Args:
        call: `BlockCall`.
        shortcut: tensor. The shortcut path.
        branch: tensor. The residual branch.
        name: str or None. Name of the `Add` layer. Defaults to
            `{call.name}_add`.
    """
    branch = attend(branch, call)  # the block's `attention` option, if any
    if call.drop_rate > 0.0:
        branch = DropPath(call.drop_rate, name=f"{call.name}_drop_path")(branch)
    return keras.layers.Add(name=name or f"{call.name}_add")([shortcut, branch])
