"""ResNeXt blocks (Xie et al. 2017, "Aggregated Residual Transformations
for Deep Neural Networks"): the post-activation bottleneck whose 3x3
convolution is split into `cardinality` groups.

Widths follow torchvision and timm: a stage of `filters` has group width
`filters * base_width / 64` and `cardinality` groups, so `resnext50_32x4d`
(cardinality 32, base width 4) runs its 3x3 at 128, 256, 512 and 1024
channels; the block outputs `4 * filters`. Layer names are the bottleneck's
(`{block}_{1..3}_{conv|bn|relu}`, `{block}_0_conv`, `_add`, `_out`).
"""

from keras_residual.blocks.base import register_block
from keras_residual.blocks.base import residual_add
from keras_residual.blocks.base import shortcut_path
from keras_residual.blocks.residual import STRIDE_ON
from keras_residual.blocks.residual import conv3x3
from keras_residual.blocks.search_family import RESIDUAL_OPTIONS
from keras_residual.blocks.search_family import cifar_stem
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.search_family import widening_stages
from keras_residual.utils.validation import check_int

DEFAULT_CARDINALITY = 32
DEFAULT_BASE_WIDTH = 4


def group_width(filters, cardinality, base_width):
    """Channels per group of a ResNeXt stage's 3x3 convolution.

    Args:
        filters: int. The stage's filters (its output is `4 * filters`).
        cardinality: int. Groups of the 3x3 convolution.
        base_width: int. Group width at 64 filters.

    Raises:
        ValueError: a group width that is not a whole, positive number.
    """
    check_int("cardinality", cardinality, minimum=1)
    check_int("base_width", base_width, minimum=1)
    if (filters * base_width) % 64:
        raise ValueError(
            f"`base_width={base_width}` gives a stage of {filters} filters a "
            f"group width of {filters} * {base_width} / 64 = "
            f"{filters * base_width / 64:g} channels; it must be a whole "
            "number: choose base_width so that filters * base_width is a "
            "multiple of 64."
        )
    return filters * base_width // 64


@register_block(
    "resnext",
    expansion=4,
    options=(
        "cardinality",
        "base_width",
        "stride_on",
        "padding",
        "attention",
        "avg_down",
    ),
    description=(
        "ResNeXt bottleneck: 1x1, grouped 3x3 (cardinality x base width), "
        "1x1 x4 (Xie et al. 2017)."
    ),
)
def resnext_block(x, call):
    """Post-activation bottleneck with a grouped 3x3 convolution.

    Block args: `cardinality` (groups, default 32), `base_width` (group
    width at 64 filters, default 4), `stride_on` (`"3x3"` by default, as
    torchvision) and `padding` (see `blocks.residual.PADDINGS`).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    cardinality = call.arg("cardinality", DEFAULT_CARDINALITY)
    base_width = call.arg("base_width", DEFAULT_BASE_WIDTH)
    width = group_width(call.filters, cardinality, base_width) * cardinality
    stride_on = call.arg("stride_on", "3x3", STRIDE_ON)
    stride_1x1 = call.stride if stride_on == "1x1" else 1
    stride_3x3 = call.stride if stride_on == "3x3" else 1
    shortcut = shortcut_path(x, call)
    y = layers.conv(x, width, 1, f"{name}_1_conv", strides=stride_1x1)
    y = layers.bn(y, f"{name}_1_bn")
    y = layers.act(y, f"{name}_1")
    y = conv3x3(y, call, width, 2, stride_3x3, groups=cardinality)
    y = layers.bn(y, f"{name}_2_bn")
    y = layers.act(y, f"{name}_2")
    y = layers.conv(y, call.out_channels, 1, f"{name}_3_conv")
    y = layers.bn(y, f"{name}_3_bn", zero_init=call.zero_init)
    y = residual_add(call, shortcut, y)
    return layers.act(y, name=f"{name}_out")


@register_search_family(
    "resnext",
    block="resnext",
    parameters={"cardinality": [2, 4, 8], **RESIDUAL_OPTIONS},
    description="ResNeXt bottlenecks (grouped 3x3)",
)
def resnext_search_spec(
    depths, base_width, cardinality=4, attention="none", stem="cifar"
):
    """ResNeXt blocks on the CIFAR layout: stage widths `base_width * 2**i`
    (x4 out) and a grouped 3x3 of `cardinality` groups, twice the stage
    width in all (`base_width` arg `128 / cardinality`).

    Args:
        depths: tuple of int. Blocks per stage.
        base_width: int. First-stage width.
        cardinality: int. Groups of every 3x3. Defaults to `4`.
        attention: str. `"none"`, `"se"` or `"eca"`. Defaults to `"none"`.
        stem: str. `"cifar"` or `"deep"`. Defaults to `"cifar"`.
    """
    cardinality = int(cardinality)
    args = {"cardinality": cardinality, "base_width": 128 // cardinality}
    if attention != "none":
        args["attention"] = attention
    return {
        "stem": dict(cifar_stem(base_width), kind=stem),
        "stages": widening_stages(depths, base_width, "resnext", args=args),
    }
