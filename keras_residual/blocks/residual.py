"""Residual (add) blocks: post-activation (He et al. 2015) and pre-activation
(He et al. 2016, "Identity Mappings in Deep Residual Networks"), with the
search families `residual`, `bottleneck` and `preact`.

Layer names follow keras.applications: `{block}_{0..3}_{conv|bn|relu}`,
`{block}_add` and `{block}_out`; `bottleneck` and `preact_bottleneck` are
layer-for-layer identical to `keras.applications` ResNet and ResNetV2 blocks.
"""

from keras_residual.blocks.base import changes_shape
from keras_residual.blocks.base import register_block
from keras_residual.blocks.base import residual_add
from keras_residual.blocks.base import shortcut_path
from keras_residual.blocks.search_family import RESIDUAL_OPTIONS
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.search_family import widening_layout

STRIDE_ON = ("1x1", "3x3")
# "same": Keras' padding; "symmetric": one row/column on every side of a
# strided 3x3 conv (PyTorch's padding=1), which "same" is not at stride 2
# on even sizes (it pads only the bottom and right).
PADDINGS = ("same", "symmetric")


@register_block(
    "basic",
    expansion=1,
    options=("padding", "attention", "avg_down", "project_first"),
    description=("Post-activation basic block: two 3x3 convs (He et al. 2015)."),
)
def basic_block(x, call):
    """Post-activation basic block: two 3x3 convs (He et al. 2015).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    shortcut = shortcut_path(x, call)
    y = basic_branch(x, call)
    y = layers.bn(y, f"{name}_2_bn", zero_init=call.zero_init)
    y = residual_add(call, shortcut, y)
    return layers.act(y, name=f"{name}_out")


@register_block(
    "bottleneck",
    expansion=4,
    options=("stride_on", "padding", "attention", "avg_down"),
    description=(
        "Post-activation bottleneck: 1x1, 3x3, 1x1 x4 (keras.applications "
        "ResNet v1 layout)."
    ),
)
def bottleneck_block(x, call):
    """Post-activation bottleneck (1x1, 3x3, 1x1 with expansion 4).

    Block args: `stride_on` (`"1x1"`, keras.applications and Caffe, or
    `"3x3"`, "ResNet v1.5") and `padding` (`"same"` or `"symmetric"`, that
    of torchvision and timm; see `PADDINGS`).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    stride_on = call.arg("stride_on", "1x1", STRIDE_ON)
    shortcut = shortcut_path(x, call)
    y = bottleneck_branch(x, call, stride_on)
    y = layers.bn(y, f"{name}_3_bn", zero_init=call.zero_init)
    y = residual_add(call, shortcut, y)
    return layers.act(y, name=f"{name}_out")


@register_block(
    "preact_basic",
    expansion=1,
    options=("padding", "attention", "avg_down"),
    description=("Pre-activation basic block: BN-ReLU-3x3 twice (He et al. 2016)."),
)
def preact_basic_block(x, call):
    """Pre-activation basic block: BN-ReLU-3x3 conv, twice (He et al. 2016).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    preact = _preactivate(x, call)
    shortcut = _preact_shortcut(x, preact, call)
    y = conv3x3(preact, call, call.filters, 1, call.stride, use_bias=False)
    y = layers.bn(y, f"{name}_1_bn")
    y = layers.act(y, f"{name}_1")
    y = layers.conv(
        y, call.filters, 3, f"{name}_2_conv", padding="same", zero_init=call.zero_init
    )
    return residual_add(call, shortcut, y, name=f"{name}_out")


@register_block(
    "preact_bottleneck",
    expansion=4,
    options=("attention", "avg_down"),
    description=("Pre-activation bottleneck (keras.applications ResNetV2 layout)."),
)
def preact_bottleneck_block(x, call):
    """Pre-activation bottleneck, identical to keras.applications ResNetV2.

    Where only the resolution changes, the shortcut is a strided identity
    (`MaxPooling2D(1, stride)`, `{name}_0_pool`), as in keras.applications.

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    preact = _preactivate(x, call)
    shortcut = _preact_shortcut(x, preact, call)
    y = layers.conv(preact, call.filters, 1, f"{name}_1_conv", use_bias=False)
    y = layers.bn(y, f"{name}_1_bn")
    y = layers.act(y, f"{name}_1")
    y = layers.pad(y, 1, f"{name}_2_pad")
    y = layers.conv(
        y, call.filters, 3, f"{name}_2_conv", strides=call.stride, use_bias=False
    )
    y = layers.bn(y, f"{name}_2_bn")
    y = layers.act(y, f"{name}_2")
    y = layers.conv(y, call.out_channels, 1, f"{name}_3_conv", zero_init=call.zero_init)
    return residual_add(call, shortcut, y, name=f"{name}_out")


def basic_branch(x, call):
    """3x3 conv-BN-act, 3x3 conv (the caller adds the last BN).

    Args:
        x: tensor. The block input.
        call: `BlockCall`. The block being built.
    """
    layers, name = call.layers, call.name
    y = conv3x3(x, call, call.filters, 1, call.stride)
    y = layers.bn(y, f"{name}_1_bn")
    y = layers.act(y, f"{name}_1")
    return layers.conv(y, call.filters, 3, f"{name}_2_conv", padding="same")


def bottleneck_branch(x, call, stride_on):
    """1x1, 3x3, 1x1 convs with BN-act between (the caller adds the last BN).

    Args:
        x: tensor. The block input.
        call: `BlockCall`. The block being built.
        stride_on: str. `"1x1"` or `"3x3"`: which conv takes the stride.
    """
    layers, name = call.layers, call.name
    stride_1x1 = call.stride if stride_on == "1x1" else 1
    stride_3x3 = call.stride if stride_on == "3x3" else 1
    y = layers.conv(x, call.filters, 1, f"{name}_1_conv", strides=stride_1x1)
    y = layers.bn(y, f"{name}_1_bn")
    y = layers.act(y, f"{name}_1")
    y = conv3x3(y, call, call.filters, 2, stride_3x3)
    y = layers.bn(y, f"{name}_2_bn")
    y = layers.act(y, f"{name}_2")
    return layers.conv(y, call.out_channels, 1, f"{name}_3_conv")


def conv3x3(x, call, filters, index, stride, **kwargs):
    """The block's `{name}_{index}_conv` 3x3 conv at `stride`, padded as the
    block's `padding` arg says: `"same"`, or `"symmetric"` through a
    `{name}_{index}_pad` layer where the stride is above 1.

    Args:
        x: tensor. The input.
        call: `BlockCall`. The block being built.
        filters: int. Output channels.
        index: int. The conv's number in the block.
        stride: int. The stride.
        **kwargs: other `LayerFactory.conv` arguments.
    """
    name = f"{call.name}_{index}"
    if call.arg("padding", "same", PADDINGS) == "symmetric" and stride > 1:
        x = call.layers.pad(x, 1, f"{name}_pad")
        return call.layers.conv(x, filters, 3, f"{name}_conv", strides=stride, **kwargs)
    return call.layers.conv(
        x, filters, 3, f"{name}_conv", strides=stride, padding="same", **kwargs
    )


def _preactivate(x, call):
    y = call.layers.bn(x, f"{call.name}_preact_bn")
    return call.layers.act(y, f"{call.name}_preact")


def _preact_shortcut(x, preact, call):
    """Projection of the pre-activated input where the width changes, a
    strided identity where only the resolution does (keras.applications)."""
    if (
        call.shortcut == "projection"
        and changes_shape(x, call)
        and x.shape[-1] == call.out_channels
    ):
        return call.layers.pool(x, 1, f"{call.name}_0_pool", strides=call.stride)
    return shortcut_path(x, call, projection_input=preact, norm=False)


register_search_family(
    "residual",
    widening_layout("basic", "zero_pad"),
    block="basic",
    parameters=RESIDUAL_OPTIONS,
    description="post-activation basic blocks",
)
register_search_family(
    "bottleneck",
    widening_layout("bottleneck"),
    block="bottleneck",
    parameters=RESIDUAL_OPTIONS,
    description="post-activation bottlenecks",
)
register_search_family(
    "preact",
    widening_layout("preact_basic", stem_norm=False, final_norm_prefix="post"),
    block="preact_basic",
    parameters=RESIDUAL_OPTIONS,
    description="pre-activation basic blocks",
)
