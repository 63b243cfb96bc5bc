"""Highway (gate) blocks, Srivastava et al. 2015, "Training Very Deep
Networks": y = H(x)·T(x) + x·(1 − T(x)), with T(x) = sigmoid(conv(x) + b_T).

The transform-gate bias b_T starts negative (default −2, the paper's CIFAR
value), so each layer starts by carrying its input. Gates are per channel
(and position): T is a convolution as wide as H. Where the width or stride
changes, the carry path is a projection (1×1 conv + BN), as in residual
stages.
"""

import keras

from keras_residual.blocks.base import register_block
from keras_residual.blocks.base import residual_add
from keras_residual.blocks.base import shortcut_path
from keras_residual.blocks.search_family import cifar_stem
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.search_family import widening_stages
from keras_residual.blocks.stems import register_stem
from keras_residual.layers.gate import HighwayGate
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int


def gate_bias_of(call):
    """The block's `gate_bias` option, checked; defaults to −2.

    Args:
        call: `BlockCall`. The block being built.
    """
    return check_float("gate_bias", call.args.get("gate_bias", -2.0))


@register_block(
    "highway",
    expansion=1,
    merge="gate",
    shortcuts=("projection",),
    options=("gate_bias", "transform_norm", "transform_depth", "gate_kernel_size"),
    description="Highway layer: H·T + x·(1−T), gate bias −2 (Srivastava et al. 2015).",
)
def highway_block(x, call):
    """Highway block.

    Block args: `gate_bias` (float, −2.0), `transform_norm` (bool, True:
    conv-BN-act; False: the paper's conv-act without BN), `transform_depth`
    (int, 1: one conv in H; 2: two, like a basic block), `gate_kernel_size`
    (int, 3).

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    gate_bias = gate_bias_of(call)
    norm = call.arg("transform_norm", True, (True, False))
    depth = check_int("transform_depth", call.args.get("transform_depth", 1), minimum=1)
    kernel = check_int(
        "gate_kernel_size", call.args.get("gate_kernel_size", 3), minimum=1
    )
    carry = shortcut_path(x, call)
    h = x
    for i in range(1, depth + 1):
        last = i == depth
        h = layers.conv(
            h,
            call.filters,
            3,
            f"{name}_{i}_conv",
            strides=call.stride if i == 1 else 1,
            padding="same",
            use_bias=None if norm else True,
        )
        if norm:
            h = layers.bn(h, f"{name}_{i}_bn", zero_init=last and call.zero_init)
        h = layers.act(h, f"{name}_{i}")
    t = layers.conv(
        x,
        call.filters,
        kernel,
        f"{name}_gate_conv",
        strides=call.stride,
        padding="same",
        use_bias=True,
        bias_initializer=keras.initializers.Constant(gate_bias),
    )
    t = keras.layers.Activation("sigmoid", name=f"{name}_gate")(t)
    update = HighwayGate(name=f"{name}_gated")([h, t, carry])
    return residual_add(call, carry, update, name=f"{name}_out")


@register_block(
    "highway_transition",
    expansion=1,
    merge="none",
    shortcuts=("none",),
    description="2x2 max pool then a plain conv to a new width "
    "(between highway stacks).",
)
def highway_transition(x, call):
    """Between highway stacks: `{name}_pool` (max pool with the transition
    stride, default 2), then `{name}_conv` to `args["filters"]` channels and the
    activation, as in the paper's CIFAR nets.

    Args:
        x: tensor. The block input, channels last.
        call: `BlockCall`. The block being built (name, filters, stride, args).
    """
    layers, name = call.layers, call.name
    filters = check_int(
        "transition_args['filters']", call.args.get("filters", x.shape[-1]), minimum=1
    )
    stride = call.stride
    y = layers.pool(x, stride, f"{name}_pool", padding="same")
    y = layers.conv(y, filters, 3, f"{name}_conv", padding="same", use_bias=True)
    return layers.act(y, f"{name}")


@register_stem(
    "plain_conv",
    stride=1,
    description=(
        "3x3 conv with bias and activation, no BN (the highway paper's stem)."
    ),
)
def plain_conv_stem(x, stem, layers):
    """The highway paper's stem: a 3×3 conv with bias, then the activation.

    Args:
        x: tensor. The input images.
        stem: `StemSpec`. Supplies `filters`.
        layers: `LayerFactory`. Makes the named layers.
    """
    x = layers.conv(x, stem.filters, 3, "conv1_conv", padding="same", use_bias=True)
    return layers.act(x, "conv1")


@register_search_family(
    "highway",
    block="highway",
    parameters={"gate_bias": {"min": -3.0, "max": -1.0}},
    description="gated highway blocks",
)
def highway_search_spec(depths, base_width, gate_bias=-2.0):
    """Highway blocks with projection carries, CIFAR stem; the sampled
    `gate_bias` is every gate's initial bias.

    Args:
        depths: tuple of int. Blocks per stage.
        base_width: int. First-stage width.
        gate_bias: float. Initial gate bias. Defaults to `-2.0`.
    """
    return {
        "stem": cifar_stem(base_width),
        "stages": widening_stages(
            depths, base_width, "highway", args={"gate_bias": float(gate_bias)}
        ),
    }
