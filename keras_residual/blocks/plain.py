"""Blocks without a shortcut: the `plain` controls of He et al.'s
degradation experiment (a deeper plain net trains worse), and the search
family `plain`."""

from keras_residual.blocks.base import register_block
from keras_residual.blocks.residual import STRIDE_ON
from keras_residual.blocks.residual import basic_branch
from keras_residual.blocks.residual import bottleneck_branch
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.search_family import widening_layout


@register_block(
    "plain",
    expansion=1,
    merge="none",
    shortcuts=("none",),
    description="Basic block without a shortcut (degradation control).",
)
def plain_block(x, call):
    """Basic block without a shortcut, for the degradation comparison.

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    y = basic_branch(x, call)
    y = call.layers.bn(y, f"{call.name}_2_bn")
    return call.layers.act(y, name=f"{call.name}_out")


@register_block(
    "plain_bottleneck",
    expansion=4,
    merge="none",
    shortcuts=("none",),
    description="Bottleneck without a shortcut (degradation control).",
)
def plain_bottleneck_block(x, call):
    """Bottleneck block without a shortcut, for the degradation comparison.

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    stride_on = call.arg("stride_on", "1x1", STRIDE_ON)
    y = bottleneck_branch(x, call, stride_on)
    y = call.layers.bn(y, f"{call.name}_3_bn")
    return call.layers.act(y, name=f"{call.name}_out")


register_search_family(
    "plain",
    widening_layout("plain", "none"),
    block="plain",
    description="no shortcuts (the control)",
)
