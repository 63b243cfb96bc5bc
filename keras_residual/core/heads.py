"""Registered heads and final norms, the classifier head, and what the
rest of the package asks of a head: does it output logits, is it a
classifier at all, and which block outputs make the feature pyramid."""

import dataclasses
import math

import keras
import numpy as np

from keras_residual.blocks.layer_factory import LayerFactory
from keras_residual.core.limits import check_classes
from keras_residual.layers.tokens import TokenPooling
from keras_residual.utils.registry import Registry
from keras_residual.utils.validation import check_choice

POOLINGS = (None, "avg", "max")

HEADS = Registry("head", "head")
FINAL_NORMS = Registry("final norm", "final_norm_kind")


@dataclasses.dataclass(frozen=True)
class HeadInfo:
    """A registered head or final norm.

    Args:
        name: str. The registered name.
        fn: callable. A head: `fn(x, layers) -> (batch, features)`, in
            float32. A final norm: `fn(x, prefix, layers) -> tensor`.
        description: str. One line.
    """

    name: str
    fn: object
    description: str = ""


def register_head(name, *, description="", overwrite=False):
    """Decorator registering a head `fn(x, layers)`: it pools the backbone's
    features into one float32 vector per example, in a named layer.

    Args:
        name: str. The name specs use in `ModelSpec.head`.
        description: str. One line. Defaults to `""`.
        overwrite: bool. Replace an existing head. Defaults to `False`.
    """

    def decorator(fn):
        HEADS.register(name, HeadInfo(name, fn, description), overwrite=overwrite)
        return fn

    return decorator


def register_final_norm(name, *, description="", overwrite=False):
    """Decorator registering a final norm `fn(x, prefix, layers)`, applied
    after the last stage when `ModelSpec.final_norm_prefix` is not None.

    Args:
        name: str. The name specs use in `ModelSpec.final_norm_kind`.
        description: str. One line. Defaults to `""`.
        overwrite: bool. Replace an existing final norm. Defaults to `False`.
    """

    def decorator(fn):
        FINAL_NORMS.register(name, HeadInfo(name, fn, description), overwrite=overwrite)
        return fn

    return decorator


def list_heads():
    """Returns `{name: description}` for every registered head."""
    return {name: info.description for name, info in HEADS.items()}


@register_head("avg", description="Global average pooling (`avg_pool`).")
def average_head(x, layers):
    """Global average pooling over the map or the tokens (`avg_pool`).

    Args:
        x: tensor. The backbone's features.
        layers: `LayerFactory`. The model's layer factory.
    """
    return layers.global_pool(x, "avg_pool", dtype="float32")


@register_head("token", description="The class token (`token_pool`), as ViT.")
def class_token_head(x, layers):
    """The class token, the first token (`token_pool`).

    Args:
        x: tensor. The backbone's features.
        layers: `LayerFactory`. The model's layer factory.
    """
    return TokenPooling("token", name="token_pool", dtype="float32")(x)


@register_head(
    "token_avg",
    description="The average of the tokens after the class token (`avg_pool`).",
)
def token_average_head(x, layers):
    """The average of the tokens after the class token (`avg_pool`).

    Args:
        x: tensor. The backbone's features.
        layers: `LayerFactory`. The model's layer factory.
    """
    prefix = layers.token_layout.get("prefix_tokens", 0)
    return TokenPooling("avg", prefix, name="avg_pool", dtype="float32")(x)


@register_final_norm(
    "norm_act", description="The spec's norm and activation (`bn`, `relu`)."
)
def norm_and_activation(x, prefix, layers):
    """The spec's norm and activation (`{prefix}bn`, `{prefix}relu`).

    Args:
        x: tensor. The last stage's output.
        prefix: str. Prefix of the layer names (`"post_"` or `""`).
        layers: `LayerFactory`. The model's layer factory.
    """
    x = layers.bn(x, f"{prefix}bn")
    return layers.act(x, name=f"{prefix}{layers.activation}")


@register_final_norm("layer_norm", description="A LayerNormalization (`norm`), as ViT.")
def final_layer_norm(x, prefix, layers):
    """A LayerNormalization (`{prefix}norm`).

    Args:
        x: tensor. The last stage's output.
        prefix: str. Prefix of the layer names (`"post_"` or `""`).
        layers: `LayerFactory`. The model's layer factory.
    """
    return layers.bn(x, f"{prefix}norm", kind="layer")


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
    check_classes(classes)
    if classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except (ValueError, TypeError):
            raise ValueError(
                "Unknown `classifier_activation`: received "
                f"{classifier_activation!r}. Use None (logits), 'softmax' or "
                "another keras.activations name."
            ) from None


def classifier_head(
    x, include_top, pooling, classes, classifier_activation, head="avg", layers=None
):
    """keras.applications' head (the registered `head`'s pooling, e.g.
    `avg_pool`, and `predictions`), or a pooling for a backbone; it computes
    in float32 under mixed precision, so that outputs are float32.

    Args:
        x: tensor. The backbone's features (a map or tokens).
        include_top: bool. Add the `predictions` classifier.
        pooling: None, `"avg"` or `"max"`. Pooling without the classifier:
            `"avg"` is the head's own pooling (global average for CNNs, the
            class token for ViT), `"max"` a global max pool.
        classes: int. Classifier size.
        classifier_activation: str or None. Activation of `predictions`.
        head: str. A registered head. Defaults to `"avg"`.
        layers: `LayerFactory` or None. The model's layer factory.
            Defaults to a plain one.
    """
    layers = layers or LayerFactory()
    pool = HEADS.get(head).fn
    if include_top:
        features = pool(x, layers)
        layers.charge((features.shape[-1], classes), "predictions")
        return keras.layers.Dense(
            classes,
            activation=classifier_activation,
            name="predictions",
            dtype="float32",
        )(features)
    if pooling == "avg":
        return pool(x, layers)
    if pooling == "max":
        return layers.global_pool(x, "max_pool", kind="max", dtype="float32")
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


def output_probabilities(model, outputs, dtype="float32"):
    """A classifier's outputs as class probabilities (NumPy): the softmax of
    logits (see `head_outputs_logits`), probabilities as they are.

    Args:
        model: `keras.Model`. The classifier the outputs came from.
        outputs: array or tensor. Its `(batch, classes)` outputs.
        dtype: str. The NumPy dtype computed in. Defaults to `"float32"`.
    """
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs), dtype)
    if head_outputs_logits(model):
        outputs = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        outputs /= outputs.sum(axis=-1, keepdims=True)
    return outputs


def is_classifier(model):
    """True for a model with a `(batch, classes)` classifier output (a
    `ResidualModel` built with `include_top=False` returns features).

    Args:
        model: `keras.Model`. The model.
    """
    return len(model.output.shape) == 2 and getattr(model, "include_top", True)
