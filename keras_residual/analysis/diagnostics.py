"""Gradient-flow diagnostics: the gradient norm reaching each block.

He et al.'s central claim is that identity shortcuts keep the signal and
its gradient flowing through depth. `block_gradient_norms` measures it:
the L2 norm of the loss gradient with respect to each block's weights, for
one batch, in forward order.
"""

import keras
import numpy as np

from keras_residual.core.builder import plan_blocks
from keras_residual.core.heads import head_outputs_logits


def block_gradient_norms(model, images, labels, from_logits=None):
    """Returns `{block name: gradient L2 norm}` for one batch, in order.

    The stem counts as block `"stem"` and the classifier as `"head"`.

    Args:
        model: `ResidualModel`. A keras_residual classifier.
        images: array. A batch of preprocessed images.
        labels: array. Integer labels for the batch.
        from_logits: bool or None. Whether the model outputs logits.
            Defaults to `head_outputs_logits(model)`.
    """
    if not hasattr(model, "spec"):
        raise TypeError(
            "`model` must be a keras_residual model (with a `spec`); received "
            f"{type(model).__name__}."
        )
    if from_logits is None:
        from_logits = head_outputs_logits(model)
    names = [plan.name for plan in plan_blocks(model.spec)]
    groups = [_group(variable.path, names) for variable in model.trainable_variables]
    gradients = _gradients(
        model, np.asarray(images, "float32"), np.asarray(labels), from_logits
    )
    squares = {}
    for group, gradient in zip(groups, gradients):
        squares[group] = squares.get(group, 0.0) + float(
            np.sum(np.square(np.asarray(gradient, "float64")))
        )
    order = ["stem", *names, "head"]
    return {name: float(np.sqrt(squares[name])) for name in order if name in squares}


def _group(path, names):
    layer = path.split("/")[0]
    for name in names:
        if layer == name or layer.startswith(name + "_"):
            return name
    return "head" if layer in ("predictions", "post_bn", "final_bn") else "stem"


def _loss_fn(from_logits):
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def _gradients(model, images, labels, from_logits):
    backend = keras.backend.backend()
    loss_fn = _loss_fn(from_logits)
    if backend == "tensorflow":
        import tensorflow as tf  # lazy: only the active backend is imported

        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        return tape.gradient(loss, model.trainable_variables)
    if backend == "jax":
        import jax  # lazy: only the active backend is imported

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def loss_of(weights):
            outputs, _ = model.stateless_call(weights, frozen, images, training=True)
            return loss_fn(labels, outputs)

        return jax.grad(loss_of)(trainable)
    raise ValueError(
        "block_gradient_norms supports the 'tensorflow' and 'jax' backends; "
        f"the backend is {backend!r}."
    )
