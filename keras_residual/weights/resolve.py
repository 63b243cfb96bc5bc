"""Resolving `weights=` (a registered name or a file) and loading it into a
freshly built model, downloading registered files on first use."""

import dataclasses
import os
import warnings

from keras_residual.utils.download import fetch_weights_file
from keras_residual.utils.validation import unknown_name_message
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import load_weights
from keras_residual.weights.registry import WeightsEntry
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import list_weights


@dataclasses.dataclass(frozen=True)
class WeightsRequest:
    """A resolved `weights=` argument.

    Args:
        entry: `WeightsEntry` or None. The registered weights, if any.
        path: str or None. A user-given file.
    """

    entry: WeightsEntry = None
    path: str = None


def resolve_weights(model_name, weights, include_top, classifier_activation):
    """Interprets `weights=` before anything is built or downloaded.

    Args:
        model_name: str or None. The registered model name (None for a spec
            built directly, which takes weight files only).
        weights: None, str or path. The `weights=` argument.
        include_top: bool. Whether the model has its classifier.
        classifier_activation: str or None. The classifier's activation.

    Returns:
        A `WeightsRequest`, or None for `weights=None`.

    Raises:
        ValueError: unknown name (with close matches), missing file, or a
            classifier activation other than softmax/None with pretrained
            weights.
    """
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "`weights` must be None, a file path or a registered name; "
            f"received {weights!r} of type {type(weights).__name__}."
        )
    weights = os.fspath(weights)
    entry = get_weights_entry(model_name, weights)
    if entry is None and os.path.isfile(weights):
        return WeightsRequest(path=weights)
    if entry is None:
        tags = list_weights(model_name) if model_name else []
        looks_like_path = os.sep in weights or weights.endswith((".h5", ".keras"))
        if looks_like_path or not tags:
            raise ValueError(
                f"Weights file not found: received weights={weights!r}. "
                "Pass an existing .h5 or .weights.h5 file"
                + (f", or one of {tags}" if tags else "")
                + ", or None."
            )
        raise ValueError(
            unknown_name_message("weights", weights, tags, kind="weights name")
            + " Or pass a path to a weights file."
        )
    if include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            f"With pretrained weights ({weights!r}), `classifier_activation` "
            f"must be None or 'softmax'; received {classifier_activation!r}."
        )
    return WeightsRequest(entry=entry)


def load_requested_weights(model, request):
    """Loads a resolved weights request into `model`, all or nothing.

    With registered weights and `include_top=True` but a `classes` that
    differs from the weights', everything but the classifier is loaded and a
    warning says so.

    Args:
        model: `ResidualModel`. The freshly built model.
        request: `WeightsRequest` or None. From `resolve_weights`.
    """
    if request is None:
        return
    if request.path is not None:
        load_weights(model, request.path)
        return
    entry = request.entry
    channels = model.image_shape[-1]
    if channels != entry.input_channels and entry.input_channels != 3:
        raise ValueError(
            f"Weights {entry.tag!r} of {entry.model} expect "
            f"{entry.input_channels} input channels; received input_shape "
            f"{model.image_shape} with {channels}. (Only RGB weights are "
            "adapted to another number of channels.)"
        )
    exclude = ()
    if model.include_top and model.classes == entry.classes and entry.top:
        weights_file = entry.top
    else:
        weights_file = entry.notop or entry.top
        if model.include_top:
            exclude = (CLASSIFIER_LAYER,)
            warnings.warn(
                f"Loaded {entry.tag!r} weights into every layer of "
                f"{model.name} except the classifier {CLASSIFIER_LAYER!r}: "
                f"the weights have {entry.classes} classes and the model "
                f"{model.classes}. Train the classifier before use.",
                stacklevel=3,
            )
        elif entry.notop is None:
            exclude = (CLASSIFIER_LAYER,)
    path = fetch_weights_file(weights_file)
    load_weights(
        model,
        path,
        exclude=exclude,
        skip_missing=bool(exclude) and weights_file is entry.top,
    )
