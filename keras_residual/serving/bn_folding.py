"""BatchNorm folding for the SavedModel serving graph: a copy of a model
(`export()` passes its float32 copy) in which every BatchNorm that
directly follows a convolution (and is its only consumer) is folded into
that convolution's kernel and bias, and replaced by a `PassThrough` of the
same name. The model itself and its `.keras` file are untouched; only the
exported graph differs.

`export()` folds for SavedModels, where it measured faster
(`python -m benchmarks export_latency`); ONNX Runtime and the TFLite
converter fold conv -> BN pairs themselves. A BN that follows an addition
or a concatenation (the pre-activation BN of a ResNetV2 or DenseNet block)
has no convolution to fold into and stays.
"""

import keras
import numpy as np

HEAD_ATTRIBUTES = ("classifier_activation", "include_top")


@keras.saving.register_keras_serializable(package="keras_residual")
class PassThrough(keras.layers.Layer):
    """What a folded BatchNorm becomes: its input, unchanged (it accepts
    BatchNorm's call arguments, which the clone passes on)."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def foldable_pairs(model):
    """`{batch_norm_name: conv_name}` for each BN fed by a linear,
    channels-last Conv2D whose output nothing else reads.

    Args:
        model: `keras.Model`. A Functional model.
    """
    producers, consumers = {}, {}
    for layer in model.layers:
        try:
            producers[id(layer.output)] = layer
        except (AttributeError, ValueError):  # a shared layer: several outputs
            continue
    for layer in model.layers:
        try:
            inputs = keras.tree.flatten(layer.input)
        except (AttributeError, ValueError):
            continue
        for tensor in inputs:
            producer = producers.get(id(tensor))
            if producer is not None:
                consumers.setdefault(producer.name, []).append(layer.name)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if layer.axis not in (-1, len(layer.input.shape) - 1):
            continue
        producer = producers.get(id(layer.input))
        if (
            type(producer) is keras.layers.Conv2D
            and producer.groups == 1
            and producer.data_format == "channels_last"
            and getattr(producer.activation, "__name__", "") == "linear"
            and consumers.get(producer.name) == [layer.name]
        ):
            pairs[layer.name] = producer.name
    return pairs


def fold_batch_norm(model):
    """Returns a copy of `model` with its conv -> BN pairs folded, inside
    nested models too (a zoo backbone wrapped in a Functional or Sequential
    model).

    Args:
        model: `keras.Model`. A Functional or Sequential model.

    Returns:
        `(folded_model, folded_count)`.
    """
    pairs = foldable_pairs(model)
    convs = set(pairs.values())
    nested = {}  # name -> folded count of each nested model, folded itself

    def clone(layer):
        if isinstance(layer, keras.Model):
            inner, nested[layer.name] = fold_batch_norm(layer)
            return inner
        config = layer.get_config()
        if layer.name in pairs:
            # The BN's own policy: under a global mixed policy a default
            # layer would cast the float32 activations to bfloat16.
            return PassThrough(name=layer.name, dtype=layer.dtype_policy)
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for name in HEAD_ATTRIBUTES:  # what `core.heads` reads off the model
        if hasattr(model, name):
            setattr(folded, name, getattr(model, name))
    for layer in model.layers:
        # Input layers hold nothing (the clone names its own), and nested
        # models were folded with their weights.
        if layer.name in pairs or layer.name in nested or not layer.weights:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in convs:
            target.set_weights(_folded_conv(layer, _bn_of(model, pairs, layer.name)))
        else:
            target.set_weights(layer.get_weights())
    return folded, len(pairs) + sum(nested.values())


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
