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
from keras_residual.blocks.layer_factory import LayerFactory
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
        tokens: bool. The block works on token sequences (a Transformer
            block); a model using it needs a known input size.
    """

    name: str
    fn: object
    expansion: int = 1
    merge: str = "add"
    shortcuts: tuple = ("projection", "zero_pad")
    strides: tuple = (1, 2)
    description: str = ""
    options: tuple = ()
    tokens: bool = False


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
    tokens=False,
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
        tokens: bool. The block works on token sequences. Defaults to
            `False`.
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
            tokens=bool(tokens),
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
        input_reduction: int. How much the network has reduced the input
            before this block (a block sizing position embeddings at the
            default input size needs it). Defaults to `1`.
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
    input_reduction: int = 1

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
    `norm`, `{name}_0_bn`). With the block option `avg_down=True`
    (ResNet-D), a strided projection first average-pools (`{name}_0_pool`,
    2x2 at the stride, padding "same" so that an odd size keeps its edge,
    as timm's `ceil_mode=True, count_include_pad=False`) and then convolves
    at stride 1. With `project_first=True` the stage's first block projects
    even where the shape is kept (keras-hub's `basic_block_vd`).

    Args:
        x: tensor. The block input.
        call: `BlockCall`.
        projection_input: tensor or None. What the projection convolves
            (pre-activation blocks pass their pre-activated input).
            Defaults to `x`.
        norm: bool. Whether the projection has a BN. Defaults to `True`.
    """
    first = "projected" not in call.stage_state
    call.stage_state["projected"] = True
    project_first = call.arg("project_first", False, (True, False))
    if not changes_shape(x, call) and not (first and project_first):
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
    stride = call.stride
    if call.arg("avg_down", False, (True, False)) and stride > 1:
        source = call.layers.pool(
            source, 2, f"{call.name}_0_pool", strides=stride, padding="same", kind="avg"
        )
        stride = 1
    y = call.layers.conv(
        source, call.out_channels, 1, f"{call.name}_0_conv", strides=stride
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
