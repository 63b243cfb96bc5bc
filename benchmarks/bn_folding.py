"""BatchNorm folding for the inference-graph measurement in
`benchmarks.export_latency`: a copy of a model in which every BatchNorm
that directly follows a convolution (and is its only consumer) is folded
into that convolution's kernel and bias, and replaced by an `Identity` of
the same name. The `.keras` weights are untouched; only the copy differs.

Pre-activation blocks (BN -> ReLU -> conv) have no conv -> BN pair, so a
ResNetV2 or DenseNet folds little; a v1 ResNet folds every BN but the ones
that follow an addition.
"""

import keras
import numpy as np


def foldable_pairs(model):
    """`{batch_norm_name: conv_name}` for each BN fed only by a Conv2D whose
    output nothing else reads.

    Args:
        model: `keras.Model`. A Functional model.
    """
    consumers = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                consumers.setdefault(producer.name, []).append(layer.name)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if layer.axis not in (-1, [-1], len(layer.input.shape) - 1):
            continue
        producer = layer.input._keras_history.operation
        if (
            type(producer) is keras.layers.Conv2D
            and producer.groups == 1
            and consumers.get(producer.name) == [layer.name]
        ):
            pairs[layer.name] = producer.name
    return pairs


def fold_batch_norm(model):
    """Returns a float32 copy of `model` with its conv -> BN pairs folded.

    Args:
        model: `keras.Model`. A Functional model.

    Returns:
        `(folded_model, folded_count)`.
    """
    pairs = foldable_pairs(model)
    convs = set(pairs.values())

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            return keras.layers.Identity(name=layer.name)
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        target = folded.get_layer(layer.name)
        if layer.name in pairs:
            continue
        if layer.name in convs:
            target.set_weights(_folded_conv(layer, _bn_of(model, pairs, layer.name)))
        else:
            target.set_weights(layer.get_weights())
    return folded, len(pairs)


def _bn_of(model, pairs, conv_name):
    return model.get_layer(next(bn for bn, conv in pairs.items() if conv == conv_name))


def _folded_conv(conv, bn):
    """Kernel and bias of `conv` followed by the inference-mode `bn`."""
    weights = conv.get_weights()
    kernel = weights[0].astype("float64")
    bias = weights[1] if conv.use_bias else np.zeros(kernel.shape[-1])
    mean = np.asarray(bn.moving_mean, "float64")
    variance = np.asarray(bn.moving_variance, "float64")
    gamma = np.asarray(bn.gamma, "float64") if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta, "float64") if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return [
        (kernel * scale).astype("float32"),
        ((bias - mean) * scale + beta).astype("float32"),
    ]
