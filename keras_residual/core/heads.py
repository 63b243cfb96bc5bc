"""Classifier heads and what the rest of the package asks of a head: does
it output logits, is it a classifier at all, and which block outputs make
the feature pyramid."""

import math

import keras

from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

POOLINGS = (None, "avg", "max")


def check_head_args(include_top, pooling, classes, classifier_activation):
    """Validates the classifier-head arguments of a model constructor.

    Args:
        include_top: bool. Whether the classifier is added.
        pooling: None, `"avg"` or `"max"`. Pooling without the classifier.
        classes: int. Classifier size, at least 1.
        classifier_activation: str or None. A `keras.activations` name, or
            None for logits.
    """
    if not isinstance(include_top, bool):
        raise TypeError(f"`include_top` must be a bool; received {include_top!r}.")
    check_choice("pooling", pooling, POOLINGS)
    check_int("classes", classes, minimum=1)
    if classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except (ValueError, TypeError):
            raise ValueError(
                "Unknown `classifier_activation`: received "
                f"{classifier_activation!r}. Use None (logits), 'softmax' or "
                "another keras.activations name."
            ) from None


def classifier_head(x, include_top, pooling, classes, classifier_activation):
    """keras.applications' head (`avg_pool` + `predictions`, or a pooling
    for a backbone); it computes in float32 under mixed precision, so that
    outputs are float32.

    Args:
        x: tensor. The backbone's 4D features.
        include_top: bool. Add the `predictions` classifier.
        pooling: None, `"avg"` or `"max"`. Pooling without the classifier.
        classes: int. Classifier size.
        classifier_activation: str or None. Activation of `predictions`.
    """
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype="float32")(x)
        return keras.layers.Dense(
            classes,
            activation=classifier_activation,
            name="predictions",
            dtype="float32",
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype="float32")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool", dtype="float32")(x)
    return x


def pyramid_levels(taps):
    """`{"P{k}": tensor}`: the last block output at each stride 2**k.

    Args:
        taps: list of `(BlockPlan, tensor)`. Every block's plan and output.
    """
    pyramid = {}
    for plan, tensor in taps:
        level = math.log2(plan.reduction)
        if level.is_integer():
            pyramid[f"P{int(level)}"] = tensor
    return dict(sorted(pyramid.items(), key=lambda item: int(item[0][1:])))


def head_outputs_logits(model):
    """True when the model's classifier has no softmax/sigmoid, so the loss
    must take logits and a server must apply the softmax.

    Args:
        model: `keras.Model`. A keras_residual model (its
            `classifier_activation` decides) or any Keras model (its last
            layer's activation decides).
    """
    activation = getattr(model, "classifier_activation", "missing")
    if activation != "missing":
        return activation is None or activation == "linear"
    layer_activation = getattr(model.layers[-1], "activation", None)
    name = getattr(layer_activation, "__name__", str(layer_activation))
    return name not in ("softmax", "sigmoid")


def is_classifier(model):
    """True for a model with a `(batch, classes)` classifier output (a
    `ResidualModel` built with `include_top=False` returns features).

    Args:
        model: `keras.Model`. The model.
    """
    return len(model.output.shape) == 2 and getattr(model, "include_top", True)
