"""Channel attention as an option of every residual (add) block:
squeeze-and-excitation (`attention="se"`, Hu et al. 2018, as timm's
`SEModule`) and efficient channel attention (`attention="eca"`, Wang et
al. 2020). It rescales the residual branch before the addition, as timm's
`seresnet` and `ecaresnet` do; without the option the block is unchanged.

Layer names: `{block}_se_{pool|reduce|relu|expand|gate|scale}` and
`{block}_eca_{pool|reshape|conv|gate|expand|scale}`.
"""

import math

import keras

ATTENTIONS = (None, "se", "eca")
# timm's SEModule: rd_ratio 1/16, channels rounded down to a multiple of 8
# (at least 8), biases on both 1x1 convolutions.
SE_RATIO = 1 / 16
SE_DIVISOR = 8


def se_channels(channels):
    """The squeeze width of an SE module on `channels` (timm's rounding).

    Args:
        channels: int. The branch's channels.
    """
    return max(
        SE_DIVISOR, int(channels * SE_RATIO + SE_DIVISOR / 2) // SE_DIVISOR * SE_DIVISOR
    )


def eca_kernel_size(channels, gamma=2, beta=1):
    """ECA's adaptive 1-D kernel size: the odd number nearest
    `(log2(channels) + beta) / gamma`.

    Args:
        channels: int. The branch's channels.
        gamma: int. Defaults to `2`.
        beta: int. Defaults to `1`.
    """
    size = int(abs((math.log2(channels) + beta) / gamma))
    return size if size % 2 else size + 1


def attend(branch, call):
    """The residual branch rescaled by the block's `attention` option.

    Args:
        branch: tensor. The branch, channels last, before the addition.
        call: `BlockCall`. The block being built.
    """
    kind = call.arg("attention", None, ATTENTIONS)
    if kind is None:
        return branch
    name, channels, layers = call.name, branch.shape[-1], call.layers
    if kind == "se":
        gate = layers.global_pool(branch, f"{name}_se_pool", keepdims=True)
        gate = layers.conv(
            gate, se_channels(channels), 1, f"{name}_se_reduce", use_bias=True
        )
        gate = layers.act(gate, name=f"{name}_se_relu", activation="relu")
        gate = layers.conv(gate, channels, 1, f"{name}_se_expand", use_bias=True)
    else:
        gate = layers.global_pool(branch, f"{name}_eca_pool")
        gate = keras.layers.Reshape((channels, 1), name=f"{name}_eca_reshape")(gate)
        size = eca_kernel_size(channels)
        layers.charge((size, 1, 1), f"{name}_eca_conv")
        gate = keras.layers.Conv1D(
            1,
            size,
            padding="same",
            use_bias=False,
            name=f"{name}_eca_conv",
        )(gate)
        ones = (1,) * (len(branch.shape) - 2)
        gate = keras.layers.Reshape((*ones, channels), name=f"{name}_eca_expand")(gate)
    gate = keras.layers.Activation("sigmoid", name=f"{name}_{kind}_gate")(gate)
    return keras.layers.Multiply(name=f"{name}_{kind}_scale")([branch, gate])
