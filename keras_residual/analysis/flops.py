"""Counting multiply-adds from a built model's graph.

Only convolutions and dense layers are counted (as the papers do): for a
`Conv2D`, `out_h * out_w * k_h * k_w * in_channels / groups * filters`; for
a `DepthwiseConv2D`, `out_h * out_w * k_h * k_w * in_channels * multiplier`;
for a `Dense`, `inputs * units` per position. BN, activations, pooling and
merges are left out. FLOPs are reported as 2 x MACs.
"""

import keras


def count_macs(model):
    """Returns the multiply-adds of one forward pass of one image.

    Args:
        model: `keras.Model`. A built Functional model with static spatial
            input shape.

    Raises:
        ValueError: if a counted layer's output shape is not fully known.
    """
    total = 0
    for layer in _flatten(model):
        if isinstance(
            layer,
            (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense),
        ):
            total += _layer_macs(layer)
    return int(total)


def count_flops(model):
    """`2 * count_macs(model)`: floating-point operations of one forward
    pass of one image.

    Args:
        model: `keras.Model`. A built Functional model with static spatial input shape.
    """
    return 2 * count_macs(model)


def _flatten(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flatten(layer)
        else:
            yield layer


def _layer_macs(layer):
    output_shape = tuple(layer.output.shape)[1:]
    if any(size is None for size in output_shape):
        raise ValueError(
            f"Cannot count the multiply-adds of layer {layer.name!r}: its output "
            f"shape {output_shape} is not fully known. Build the model with a "
            "fixed `input_shape`."
        )
    kernel = tuple(layer.kernel.shape)
    positions = 1
    for size in output_shape[:-1]:
        positions *= size
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel_h, kernel_w, channels, multiplier = kernel
        return positions * kernel_h * kernel_w * channels * multiplier
    if isinstance(layer, keras.layers.Conv2D):
        kernel_h, kernel_w, channels_per_group, filters = kernel
        return positions * kernel_h * kernel_w * channels_per_group * filters
    inputs, units = kernel
    return positions * inputs * units
