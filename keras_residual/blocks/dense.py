"""DenseNet (concat) blocks, Huang et al. 2017, "Densely Connected
Convolutional Networks".

A dense layer is BN-ReLU-1×1 conv (bottleneck × k) then BN-ReLU-3×3 conv
(k), concatenated onto its input; a transition is BN-ReLU-1×1 conv with
compression θ, then a 2×2 average pool. Names and layers follow
keras.applications DenseNet: `{block}_0_bn`, `_0_relu`, `_1_conv`, `_1_bn`,
`_1_relu`, `_2_conv`, `_concat`; `pool{n}_bn`, `_relu`, `_conv`, `_pool`.
"""

import keras

from keras_residual.blocks.base import register_block
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.stems import register_stem
from keras_residual.layers.remat import MemoryEfficientBottleneck
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int

# Where a memory-efficient dense layer leaves the stage's feature maps for
# the next one, in `BlockCall.stage_state`.
FEATURE_MAPS = "dense_feature_maps"


def bottleneck_width_of(args):
    """The `bottleneck` option (in units of the growth rate), checked.

    Args:
        args: dict. The stage's block args.
    """
    return check_int("bottleneck", args.get("bottleneck", 4), minimum=0)


def compression_of(args):
    """The transition's `compression` option in (0, 1], checked.

    Args:
        args: dict. The transition args.
    """
    return check_float(
        "compression", args.get("compression", 0.5), 0.0, 1.0, min_inclusive=False
    )


@register_block(
    "dense",
    expansion=1,
    merge="concat",
    shortcuts=("none",),
    strides=(1,),
    options=("bottleneck", "memory_efficient"),
    description="DenseNet layer: BN-ReLU-1x1 (4k), BN-ReLU-3x3 "
    "(k), concatenated (Huang et al. 2017).",
)
def dense_layer(x, call):
    """One dense layer; the stage's `filters` is the growth rate k.

    Block args: `bottleneck` (int, 4: the 1×1 conv has `bottleneck * k`
    filters; 0 drops it, as in the original DenseNet-40) and
    `memory_efficient` (bool, False: with True, `{name}_remat`, a
    `MemoryEfficientBottleneck`, replaces `_0_bn`, `_0_relu` and the first
    conv, and the running concatenations are never formed).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    growth = check_int("growth_rate", call.filters, minimum=1)
    bottleneck = bottleneck_width_of(call.args)
    # The first conv: the 1x1 bottleneck, or the 3x3 itself without one.
    first_filters = bottleneck * growth if bottleneck else growth
    first_kernel, first_name = (1, "_1_conv") if bottleneck else (3, "_2_conv")
    memory_efficient = call.arg("memory_efficient", False, (True, False))
    if memory_efficient:
        pieces = call.stage_state.get(FEATURE_MAPS, [x])
        y = MemoryEfficientBottleneck(
            first_filters,
            kernel_size=first_kernel,
            momentum=layers.bn_momentum,
            epsilon=layers.bn_epsilon,
            activation=layers.activation,
            kernel_initializer=layers.kernel_initializer,
            rank=len(x.shape) - 2,
            name=f"{name}_remat",
        )(pieces)
    else:
        y = layers.act(layers.bn(x, f"{name}_0_bn"), f"{name}_0")
        y = layers.conv(
            y, first_filters, first_kernel, f"{name}{first_name}", padding="same"
        )
    if bottleneck:
        y = layers.act(layers.bn(y, f"{name}_1_bn"), f"{name}_1")
        y = layers.conv(y, growth, 3, f"{name}_2_conv", padding="same")
    concat = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")
    if not memory_efficient:
        return concat([x, y])
    # Joins every piece at once: only the last layer's concatenation feeds
    # anything (the transition), so no running concatenation is formed. The
    # next layer of the stage takes the pieces, not this concatenation.
    call.stage_state[FEATURE_MAPS] = pieces + [y]
    return concat(pieces + [y])


@register_block(
    "dense_transition",
    expansion=1,
    merge="none",
    shortcuts=("none",),
    options=("compression",),
    description="DenseNet transition: BN-ReLU-1x1 conv with "
    "compression, 2x2 average pool.",
)
def dense_transition(x, call):
    """Transition between dense stages. Args: `compression` (float in
    (0, 1], 0.5), `stride` (int, 2)."""
    layers, name = call.layers, call.name
    compression = compression_of(call.args)
    stride = call.stride
    y = layers.act(layers.bn(x, f"{name}_bn"), f"{name}")
    y = layers.conv(y, int(x.shape[-1] * compression), 1, f"{name}_conv")
    return layers.pool(y, stride, f"{name}_pool", kind="avg")


@register_stem(
    "densenet",
    stride=4,
    description=("keras.applications DenseNet stem, with its paddings named."),
)
def densenet_stem(x, stem, layers):
    """7×7/2 conv, BN, ReLU and a 3×3/2 max pool named `pool1`, as in
    keras.applications; the paddings it leaves unnamed are `conv1_pad` and
    `pool1_pad` here. `args={"padding": "same"}` pads both as "same"
    instead (keras-hub's DenseNetBackbone).

    Args:
        x: tensor. The input images.
        stem: `StemSpec`. Supplies `filters`.
        layers: `LayerFactory`. Makes the named layers.
    """
    padding = stem.args.get("padding", "symmetric")
    check_choice("stem.args['padding']", padding, ("symmetric", "same"))
    if padding == "same":  # keras-hub's DenseNetBackbone
        x = layers.conv(x, stem.filters, 7, "conv1_conv", strides=2, padding="same")
        x = layers.act(layers.bn(x, "conv1_bn"), "conv1")
        return layers.pool(x, 3, "pool1", strides=2, padding="same")
    x = layers.pad(x, 3, "conv1_pad")
    x = layers.conv(x, stem.filters, 7, "conv1_conv", strides=2)
    x = layers.act(layers.bn(x, "conv1_bn"), "conv1")
    x = layers.pad(x, 1, "pool1_pad")
    return layers.pool(x, 3, "pool1", strides=2)


def dense_stages(blocks, growth_rate=32, bottleneck=4, compression=0.5):
    """DenseNet stages as spec data: dense stages of `blocks` layers, each
    but the last followed by a transition.

    Args:
        blocks: sequence of int. Dense layers per stage.
        growth_rate: int. k, the channels each layer adds. Defaults to `32`.
        bottleneck: int. Width of the 1×1 conv in units of k; 0 drops it.
            Defaults to `4`.
        compression: float. θ in (0, 1], the transitions' channel factor.
            Defaults to `0.5`.
    """
    growth_rate = check_int("growth_rate", growth_rate, minimum=1)
    bottleneck = bottleneck_width_of({"bottleneck": bottleneck})
    compression = compression_of({"compression": compression})
    last = len(blocks) - 1
    return [
        {
            "depth": depth,
            "filters": growth_rate,
            "block": "dense",
            "stride": 1,
            "shortcut": "none",
            "args": {"bottleneck": bottleneck},
            "transition": None if i == last else "dense_transition",
            "transition_args": {} if i == last else {"compression": compression},
        }
        for i, depth in enumerate(blocks)
    ]


@register_search_family(
    "dense",
    block="dense",
    parameters={"growth_rate": [8, 12, 16], "compression": [0.5, 1.0]},
    description="DenseNet-BC stages and transitions",
)
def dense_search_spec(depths, base_width, growth_rate=12, compression=0.5):
    """DenseNet-BC stages (bottleneck 4) with a CIFAR stem of twice the
    growth rate; `base_width` is not used (the growth rate sets the width).

    Args:
        depths: tuple of int. Blocks per stage.
        base_width: int. First-stage width.
        growth_rate: int. k. Defaults to `12`.
        compression: float. θ of the transitions. Defaults to `0.5`.
    """
    return {
        "stem": {"kind": "cifar", "filters": 2 * growth_rate, "args": {"norm": False}},
        "stages": dense_stages(tuple(depths), growth_rate, 4, compression),
        "final_norm_prefix": "",
    }
