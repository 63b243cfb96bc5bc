"""Counting multiply-adds from a built model's graph.

Counted, as the papers do: convolutions (1-D and 2-D, grouped and
depthwise: `positions * prod(kernel shape)`, the kernel holding
`in_channels / groups` inputs per filter), dense layers (`positions *
inputs * units`, a Transformer's MLP included) and self-attention: its
four projections and its two matrix products (`Q K^T` and the weighted
sum of the values, `2 * tokens^2 * width` per layer). BN, LayerNorm,
activations, softmax, pooling and merges are left out. FLOPs are reported
as 2 x MACs.

timm's tables give ViT-S/16 at 224 px as 4.25 GMACs (projections, MLP and
patch embedding only) or 4.61 GMACs (also the two attention products);
this count is the second kind (`attention_products=False` gives the first).
"""

import math

import keras

COUNTED = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)


def count_macs(model, attention_products=True):
    """Returns the multiply-adds of one forward pass of one example.

    Args:
        model: `keras.Model`. A built Functional model with a static input
            shape.
        attention_products: bool. Count self-attention's `Q K^T` and
            attention-times-values products. Defaults to `True`.

    Raises:
        ValueError: if a counted layer's output shape is not fully known.
    """
    total = 0
    for layer in _flatten(model):
        if isinstance(layer, COUNTED):
            total += _positions(layer) * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            total += _attention_macs(layer, attention_products)
    return int(total)


def count_flops(model, attention_products=True):
    """`2 * count_macs(model)`: floating-point operations of one forward
    pass of one example.

    Args:
        model: `keras.Model`. A built Functional model with a static input
            shape.
        attention_products: bool. See `count_macs`. Defaults to `True`.
    """
    return 2 * count_macs(model, attention_products)


def _flatten(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flatten(layer)
        else:
            yield layer


def _positions(layer):
    """Output positions (pixels or tokens) of a layer applied per position."""
    output_shape = tuple(layer.output.shape)[1:]
    if any(size is None for size in output_shape):
        raise ValueError(
            f"Cannot count the multiply-adds of layer {layer.name!r}: its output "
            f"shape {output_shape} is not fully known. Build the model with a "
            "fixed `input_shape`."
        )
    return math.prod(output_shape[:-1])


def _attention_macs(layer, attention_products):
    """Self-attention over `tokens`: the query, key, value and output
    projections (every variable of rank 3 is one of their kernels), and
    optionally the two `tokens x tokens` products."""
    tokens = _positions(layer)
    projections = sum(
        tokens * math.prod(variable.shape)
        for variable in layer.trainable_weights
        if len(variable.shape) == 3
    )
    if not attention_products:
        return projections
    width = layer.num_heads * layer.key_dim
    value_width = layer.num_heads * (layer.value_dim or layer.key_dim)
    return projections + tokens * tokens * (width + value_width)
