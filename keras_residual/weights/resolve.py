"""Resolving `weights=` (a registered name or a file) and loading it into a
freshly built model, downloading registered files on first use."""

import dataclasses
import os
import warnings

from keras_residual.utils.download import fetch_weights_file
from keras_residual.utils.hub import fetch_hub_file
from keras_residual.utils.validation import unknown_name_message
from keras_residual.weights.converters import TorchCheckpoint
from keras_residual.weights.converters import load_checkpoint
from keras_residual.weights.converters import read_checkpoint
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import load_weights
from keras_residual.weights.registry import WeightsEntry
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import list_weights
from keras_residual.weights.state_dict import TORCH_SUFFIXES
from keras_residual.weights.state_dict import checkpoint_format

STATE_DICT_SUFFIXES = (".safetensors", *TORCH_SUFFIXES)


@dataclasses.dataclass(frozen=True)
class WeightsRequest:
    """A resolved `weights=` argument.

    Args:
        entry: `WeightsEntry` or None. The registered weights, if any.
        path: str or None. A user-given file.
        checkpoint: `TorchCheckpoint` or None. A PyTorch state dict (timm,
            torchvision), read and recognised; the model is built in its
            layout.
    """

    entry: WeightsEntry = None
    path: str = None
    checkpoint: TorchCheckpoint = None


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
        if checkpoint_format(weights) in ("safetensors", "torch"):
            return WeightsRequest(path=weights, checkpoint=read_checkpoint(weights))
        return WeightsRequest(path=weights)
    if entry is None:
        tags = list_weights(model_name) if model_name else []
        looks_like_path = os.sep in weights or weights.endswith(
            (".h5", ".keras", *STATE_DICT_SUFFIXES)
        )
        if looks_like_path or not tags:
            raise ValueError(
                f"Weights file not found: received weights={weights!r}. "
                "Pass an existing .h5, .weights.h5, .safetensors or .pth file"
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
    weights_file = entry.top or entry.notop
    if weights_file.file_name.endswith(STATE_DICT_SUFFIXES):
        checkpoint = read_checkpoint(fetch_file(weights_file))
        return WeightsRequest(entry=entry, checkpoint=checkpoint)
    return WeightsRequest(entry=entry)


def fetch_file(weights_file):
    """A local path of a registered file: packaged, cached or downloaded
    (from a URL, or from the Hugging Face Hub).

    Args:
        weights_file: `WeightsFile`. The file.
    """
    if weights_file.hub_repo is not None:
        return fetch_hub_file(
            weights_file.hub_repo,
            weights_file.hub_filename,
            file_hash=weights_file.file_hash,
        )
    return fetch_weights_file(weights_file)


def checkpoint_spec(spec, request):
    """The spec to build: `spec`, or, for a PyTorch checkpoint, the
    checkpoint's own layout of the same network (its padding, stride
    placement and BatchNorm epsilon).

    Args:
        spec: `ModelSpec`. The requested architecture.
        request: `WeightsRequest` or None. From `resolve_weights`.

    Raises:
        ValueError: the checkpoint holds another network (other depths,
            widths or blocks).
    """
    if request is None or request.checkpoint is None:
        return spec
    architecture = request.checkpoint.architecture
    if _structure(spec) != _structure(architecture.spec):
        raise ValueError(
            f"`weights` file {request.checkpoint.path!r} holds a "
            f"{architecture.description}, which is not this model "
            f"(blocks, depths, widths {_structure(spec)}). Build the network "
            "it holds with keras_residual.from_checkpoint(path)."
        )
    return architecture.spec.replace(
        default_size=spec.default_size, min_size=spec.min_size
    )


# Block args that change a network's variables (not only its layout).
STRUCTURAL_ARGS = ("attention", "cardinality", "base_width", "avg_down")


def _structure(spec):
    """What a checkpoint must share with a spec: the stem's kind and width
    and each stage's depth, width, block, transition and structural args
    (channel attention, ResNeXt groups, ResNet-D shortcuts)."""
    return (
        spec.stem.kind,
        spec.stem.filters,
        tuple(
            (s.depth, s.filters, s.block, s.transition)
            + tuple(s.args.get(a) for a in STRUCTURAL_ARGS if s.args.get(a))
            for s in spec.stages
        ),
    )


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
    if request.checkpoint is not None:
        _load_torch_checkpoint(model, request.checkpoint)
        return
    if request.path is not None:
        load_weights(model, request.path)
        return
    entry = request.entry
    channels = model.image_shape[-1]
    if channels != entry.input_channels and entry.input_channels not in (1, 3):
        raise ValueError(
            f"Weights {entry.tag!r} of {entry.model} expect "
            f"{entry.input_channels} input channels; received input_shape "
            f"{model.image_shape} with {channels}. (Only RGB and grey weights "
            "are adapted to another number of channels.)"
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
    path = fetch_file(weights_file)
    load_weights(
        model,
        path,
        exclude=exclude,
        skip_missing=bool(exclude) and weights_file is entry.top,
    )


def _load_torch_checkpoint(model, checkpoint):
    """Loads a PyTorch checkpoint, leaving out a classifier of another
    number of classes (with a warning)."""
    classes = checkpoint.architecture.classes
    exclude = ()
    if model.include_top and classes != model.classes:
        exclude = (CLASSIFIER_LAYER,)
        warnings.warn(
            f"Loaded {checkpoint.path!r} into every layer of {model.name} "
            f"except the classifier {CLASSIFIER_LAYER!r}: the checkpoint has "
            f"{classes or 'no'} classes and the model {model.classes}. Train "
            "the classifier before use.",
            stacklevel=4,
        )
    load_checkpoint(model, checkpoint, exclude=exclude)
