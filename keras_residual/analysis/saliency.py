"""Where a classifier looks: Grad-CAM (Selvaraju et al., 2017) for
convolutional models and attention rollout (Abnar & Zuidema, 2020) for
Transformers, as heat maps at the input's resolution, and PNG overlays.

```python
maps = keras_residual.grad_cam(model, images)        # (n, height, width)
keras_residual.save_overlays(pixels, maps, "cam.png")
```
"""

import dataclasses

import keras
import numpy as np

from keras_residual.analysis.plots import pyplot
from keras_residual.analysis.plots import save_figure
from keras_residual.core.heads import head_outputs_logits
from keras_residual.core.heads import output_probabilities
from keras_residual.utils.validation import unknown_name_message

POOLING_LAYERS = ("avg_pool", "token_pool", "token_avg_pool")


@dataclasses.dataclass
class HeatMaps:
    """What `grad_cam`, `attention_rollout` and `explain` return.

    Args:
        maps: array. `(n, height, width)` heat in [0, 1] at the input's
            resolution (each map divided by its maximum).
        class_indices: array of int. The class each map explains.
        scores: array. The model's probability of that class.
        method: str. `"grad_cam"` or `"attention_rollout"`.
        layer: str. The layer whose activations (or the attention layers
            whose scores) the maps come from.
    """

    maps: object
    class_indices: object
    scores: object
    method: str
    layer: str


def grad_cam(model, images, class_index=None, layer=None):
    """Grad-CAM heat maps: the last convolutional feature map weighted by
    the spatial mean of the gradient of the class's log-probability (the
    logit for a model without softmax), rectified and upsampled.

    Args:
        model: `keras.Model`. A 2-D image classifier.
        images: array. `(n, height, width, channels)`, as the model takes
            them (preprocessed).
        class_index: int, sequence of int or None. The class to explain per
            image; None explains each image's predicted class.
        layer: str or None. The feature layer. Defaults to the one whose
            output the classifier pools (`avg_pool`'s input).

    Returns:
        A `HeatMaps`.
    """
    images = _checked_images(model, images)
    feature_layer = _feature_layer(model, layer)
    features_model = keras.Model(model.input, feature_layer.output)
    head = keras.Model(feature_layer.output, model.output)
    features = keras.ops.convert_to_numpy(features_model(images, training=False))
    if features.ndim != 4:
        raise ValueError(
            f"Grad-CAM needs a 2-D feature map; layer {feature_layer.name!r} "
            f"gives shape {features.shape}. Pass `layer=` naming a "
            "convolutional layer, or use attention_rollout for a Transformer."
        )
    probabilities = output_probabilities(
        model, head(features, training=False), "float64"
    )
    classes = _classes(class_index, probabilities)
    gradients = _class_gradients(head, features, classes, head_outputs_logits(model))
    weights = gradients.mean(axis=(1, 2), keepdims=True)
    cams = np.maximum((weights * features).sum(axis=-1), 0.0)
    return HeatMaps(
        maps=_upsample(cams, images.shape[1:3]),
        class_indices=classes,
        scores=probabilities[np.arange(len(classes)), classes],
        method="grad_cam",
        layer=feature_layer.name,
    )


def attention_rollout(model, images, class_index=None, discard_ratio=0.0):
    """Attention rollout: each block's attention averaged over heads, plus
    the identity for the residual path, rows renormalised, multiplied
    through the blocks; the map is the class token's row over the patches
    (the average row for a model without a class token). It explains the
    model as a whole, not one class; `class_index` only picks the score
    reported.

    Args:
        model: `keras.Model`. A model with `MultiHeadAttention` blocks
            (`{block}_attn`, fed by `{block}_norm1`).
        images: array. `(n, height, width, channels)`, preprocessed.
        class_index: int, sequence of int or None. The class whose score
            is reported. Defaults to the predicted class.
        discard_ratio: float. Share of the lowest attention weights set to
            zero before rolling out (0 keeps all). Defaults to `0.0`.

    Returns:
        A `HeatMaps`.
    """
    images = _checked_images(model, images)
    attention = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.MultiHeadAttention)
    ]
    if not attention:
        raise ValueError(
            f"Model {model.name!r} has no MultiHeadAttention layer; use "
            "grad_cam for a convolutional model."
        )
    norms = [
        model.get_layer(layer.name[: -len("attn")] + "norm1") for layer in attention
    ]
    probe = keras.Model(model.input, [norm.output for norm in norms] + [model.output])
    outputs = probe(images, training=False)
    rollout = None
    for layer, tokens in zip(attention, outputs[:-1]):
        _, scores = layer(tokens, tokens, return_attention_scores=True, training=False)
        step = _attention_step(keras.ops.convert_to_numpy(scores), discard_ratio)
        rollout = step if rollout is None else step @ rollout
    probabilities = output_probabilities(model, outputs[-1], "float64")
    classes = _classes(class_index, probabilities)
    prefix, grid = _token_grid(rollout.shape[-1], images.shape[1:3])
    if prefix:
        relevance = rollout[:, 0, prefix:]
    else:
        relevance = rollout.mean(axis=1)
    maps = relevance.reshape((len(images),) + grid)
    return HeatMaps(
        maps=_upsample(maps, images.shape[1:3]),
        class_indices=classes,
        scores=probabilities[np.arange(len(classes)), classes],
        method="attention_rollout",
        layer=",".join(layer.name for layer in attention),
    )


def explain(model, images, class_index=None):
    """Heat maps by the method that suits the model: attention rollout
    for a model with attention blocks, else Grad-CAM.

    Args:
        model: `keras.Model`. A 2-D image classifier.
        images: array. Preprocessed `(n, height, width, channels)`.
        class_index: int, sequence of int or None. See `grad_cam`.
    """
    if any(
        isinstance(layer, keras.layers.MultiHeadAttention) for layer in model.layers
    ):
        return attention_rollout(model, images, class_index)
    return grad_cam(model, images, class_index)


def save_overlays(pixels, heat, path, captions=None, alpha=0.45, sizes=None):
    """Writes a grid of images with their heat maps laid over them (the
    `jet` colour map) to a PNG.

    Args:
        pixels: array. `(n, height, width, channels)` images in [0, 255].
        heat: `HeatMaps` or array `(n, height, width)` in [0, 1].
        path: str. The PNG file.
        captions: sequence of str or None. One title per image.
        alpha: float. The heat map's opacity. Defaults to `0.45`.
        sizes: sequence of `(height, width)` or None. The size each image
            had before it was resized to the model's input: it is shown at
            that aspect, letterboxed, not squashed. Defaults to `None`
            (as given).
    """
    maps = heat.maps if isinstance(heat, HeatMaps) else np.asarray(heat)
    pixels = np.asarray(pixels, dtype="float32")
    if pixels.shape[:3] != maps.shape:
        raise ValueError(
            f"`pixels` of shape {pixels.shape} do not match heat maps of shape "
            f"{maps.shape}: one (height, width) map per image."
        )
    plt = pyplot()
    count = len(maps)
    columns = min(count, 4)
    rows = -(-count // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        image = pixels[index]
        shown = image[..., 0] if image.shape[-1] == 1 else image / 255.0
        aspect = 1.0  # height / width of one pixel on screen
        if sizes is not None:
            height, width = sizes[index]
            aspect = (height / width) * (image.shape[1] / image.shape[0])
        axis.imshow(
            shown,
            cmap="gray" if image.shape[-1] == 1 else None,
            vmin=0,
            vmax=255 if image.shape[-1] == 1 else None,
            aspect=aspect,
        )
        axis.imshow(
            maps[index], cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0, aspect=aspect
        )
        if captions is not None:
            axis.set_title(captions[index], fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path)


def _checked_images(model, images):
    images = np.asarray(images, dtype="float32")
    expected = tuple(model.input_shape[1:])
    if images.ndim != 4 or any(
        want is not None and got != want
        for got, want in zip(images.shape[1:], expected)
    ):
        raise ValueError(
            f"`images` must have shape (n,) + {expected}, as the model takes "
            f"them; received {images.shape}."
        )
    return images


def _feature_layer(model, layer):
    if layer is not None:
        try:
            return model.get_layer(layer)
        except ValueError:
            names = [candidate.name for candidate in model.layers]
            raise ValueError(
                unknown_name_message("layer", layer, names, "layer")
            ) from None
    for name in POOLING_LAYERS:
        if any(candidate.name == name for candidate in model.layers):
            return _producer(model, model.get_layer(name))
    raise ValueError(
        f"Model {model.name!r} has no pooling layer ({', '.join(POOLING_LAYERS)}) "
        "whose input is the feature map; pass `layer=` naming the last "
        "convolutional layer."
    )


def _producer(model, layer):
    """The layer whose output `layer` takes."""
    tensor = layer.input
    for candidate in model.layers:
        if candidate.output is tensor:
            return candidate
    raise ValueError(f"Cannot find the layer that feeds {layer.name!r}.")


def _classes(class_index, probabilities):
    count, classes = probabilities.shape
    if class_index is None:
        return probabilities.argmax(axis=-1)
    chosen = np.broadcast_to(np.asarray(class_index), (count,)).astype("int64")
    if ((chosen < 0) | (chosen >= classes)).any():
        raise ValueError(
            f"`class_index` must be in [0, {classes}); received {class_index!r}."
        )
    return chosen


def _class_gradients(head, features, classes, logits):
    """d score / d features, the score being the class's logit (a logits
    model) or log-probability (a softmax model), on the active backend."""
    one_hot = np.eye(head.output.shape[-1], dtype="float32")[classes]

    def score(values):
        outputs = keras.ops.cast(head(values, training=False), "float32")
        if not logits:
            outputs = keras.ops.log(keras.ops.maximum(outputs, 1e-12))
        return keras.ops.sum(outputs * one_hot)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # lazy: only the active backend is imported

        values = tf.convert_to_tensor(features)
        with tf.GradientTape() as tape:
            tape.watch(values)
            total = score(values)
        return tape.gradient(total, values).numpy()
    if backend == "jax":
        import jax  # lazy: only the active backend is imported

        return np.asarray(jax.grad(score)(features))
    raise ValueError(
        f"grad_cam supports the 'tensorflow' and 'jax' backends; the backend "
        f"is {backend!r}."
    )


def _attention_step(scores, discard_ratio):
    """One block's rollout factor: heads averaged, lowest weights dropped,
    the identity added, rows renormalised."""
    attention = scores.mean(axis=1).astype("float64")
    if discard_ratio > 0:
        flat = attention.reshape(len(attention), -1)
        cut = np.quantile(flat, discard_ratio, axis=1)[:, None, None]
        attention = np.where(attention < cut, 0.0, attention)
    attention = attention + np.eye(attention.shape[-1])
    return attention / attention.sum(axis=-1, keepdims=True)


def _token_grid(tokens, size):
    """`(prefix tokens, (rows, columns))` for `tokens` laid out on a grid
    with the image's aspect ratio: a class token when one extra token
    makes the rest a grid."""
    height, width = size
    for prefix in (1, 0):
        patches = tokens - prefix
        columns = int(round((patches * width / height) ** 0.5))
        if columns and patches % columns == 0:
            rows = patches // columns
            if abs(rows / columns - height / width) < 1e-6:
                return prefix, (rows, columns)
    raise ValueError(
        f"Cannot lay {tokens} tokens out on a grid of a {height}x{width} image."
    )


def _upsample(maps, size):
    """Bilinear resizing of `(n, rows, columns)` maps to `size`, each
    divided by its maximum (a map of zeros stays zero)."""
    maps = np.asarray(maps, dtype="float32")
    resized = keras.ops.convert_to_numpy(
        keras.ops.image.resize(maps[..., None], size, interpolation="bilinear")
    )[..., 0]
    resized = np.maximum(resized, 0.0)
    peak = resized.reshape(len(resized), -1).max(axis=1)
    return resized / np.where(peak > 0, peak, 1.0)[:, None, None]
