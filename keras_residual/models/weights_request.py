"""Resolving `weights=` (a registered name, a weights file, a PyTorch state
dict, a `.keras` file or a run directory) and loading it into a freshly
built model, downloading registered files on first use: the one resolver
of `build()`, `from_checkpoint()` and `train()`."""

import dataclasses
import os
import warnings

from keras_residual.hub.files import fetch_hub_file
from keras_residual.hub.ids import fetch_hub_weights
from keras_residual.hub.ids import hub_class_names
from keras_residual.hub.ids import hub_input_size
from keras_residual.hub.ids import hub_model
from keras_residual.hub.ids import hub_preprocessing
from keras_residual.hub.ids import is_hub_id
from keras_residual.hub.ids import read_hub_config
from keras_residual.hub.preset_format import is_preset_config
from keras_residual.hub.preset_format import model_from_preset
from keras_residual.hub.preset_format import preset_directory_config
from keras_residual.hub.preset_format import preset_from_folder
from keras_residual.utils.download import fetch_weights_file
from keras_residual.utils.validation import unknown_name_message
from keras_residual.weights.converters import TorchCheckpoint
from keras_residual.weights.converters import load_checkpoint
from keras_residual.weights.converters import read_checkpoint
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import load_weights
from keras_residual.weights.hdf5 import load_weights_but_classifier
from keras_residual.weights.keras_source import copy_weights
from keras_residual.weights.keras_source import load_keras_source
from keras_residual.weights.registry import WeightsEntry
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import weight_tags
from keras_residual.weights.state_dict import TORCH_SUFFIXES
from keras_residual.weights.state_dict import checkpoint_format

STATE_DICT_SUFFIXES = (".safetensors", *TORCH_SUFFIXES)


@dataclasses.dataclass(frozen=True)
class WeightsRequest:
    """A resolved `weights=` argument, the one answer `build()`,
    `from_checkpoint()` and `train()` share.

    Args:
        weights: str. A registered name as given, or an absolute path.
        kind: str. `"registered"`, `"hub"` (a Hub id of a timm checkpoint,
            `"hf-hub:ORG/REPO"`), `"checkpoint"` (a timm/torchvision state
            dict), `"file"` (a Keras weights file), `"keras"` (a `.keras`
            file or a run directory of `train()`) or `"preset"` (a preset
            folder or Hub id, from `save_to_preset`/`push_to_hub`).
        entry: `WeightsEntry` or None. The registered weights.
        checkpoint: `TorchCheckpoint` or None. A state dict, read and
            recognised; the model is built in its layout.
        source_model: `ResidualModel` or None. The loaded `"keras"` or
            `"preset"` source.
        hub_config: dict or None. A Hub id's `config.json`.
    """

    weights: str
    kind: str
    entry: WeightsEntry = None
    checkpoint: TorchCheckpoint = None
    source_model: object = None
    hub_config: dict = None

    @property
    def path(self):
        """The user's file, or None for registered weights and Hub ids."""
        if self.kind in ("registered", "hub") or is_hub_id(self.weights):
            return None
        return self.weights

    @property
    def front_end(self):
        """The audio front end of the weights (registered, or a trained
        audio model's), or None."""
        if self.entry is not None:
            return self.entry.front_end
        return getattr(self.source_model, "front_end", None)

    @property
    def preprocessing(self):
        """The preprocessing mode the weights were trained with, if known."""
        if self.entry is not None:
            return self.entry.preprocessing
        if self.hub_config is not None:
            return hub_preprocessing(self.hub_config)
        return getattr(self.source_model, "preprocessing", None)

    @property
    def class_names(self):
        """The names of the weights' classes, if known."""
        if self.entry is not None:
            return self.entry.class_names
        if self.hub_config is not None:
            return hub_class_names(self.hub_config)
        return getattr(self.source_model, "class_names", None)

    @property
    def input_size(self):
        """`(height, width)` the weights were trained at, if known."""
        if self.entry is not None and self.entry.input_size is not None:
            return (self.entry.input_size,) * 2
        if self.hub_config is not None and hub_input_size(self.hub_config):
            return (hub_input_size(self.hub_config),) * 2
        if self.source_model is not None:
            size = tuple(self.source_model.image_shape[:2])
            return None if None in size else size
        return None

    @property
    def classes(self):
        """The number of classes of the weights' classifier, if any."""
        if self.entry is not None:
            return self.entry.classes
        if self.checkpoint is not None:
            return self.checkpoint.architecture.classes
        if self.source_model is not None and self.source_model.include_top:
            return self.source_model.classes
        return None


def resolve_weights(
    model_name, weights, include_top=True, classifier_activation="softmax"
):
    """Interprets `weights=` before anything is built or downloaded.

    Args:
        model_name: str or None. The registered model name (None for a spec
            built directly, which takes files only).
        weights: None, str, path or `WeightsRequest`. A name registered for
            the model, a Hub id (`"hf-hub:ORG/REPO"`), a weights file
            (`.h5`, `.weights.h5`), a state dict (`.safetensors`, `.pth`), a
            `.keras` file, a run directory of `train()` or a preset (folder
            or Hub id); a `WeightsRequest` is returned as it is.
        include_top: bool. Whether the model has its classifier. Defaults
            to `True`.
        classifier_activation: str or None. The classifier's activation.
            Defaults to `"softmax"`.

    Returns:
        A `WeightsRequest`, or None for `weights=None`.

    Raises:
        ValueError: unknown name (with close matches), missing file, a
            `.keras` source that is not a keras_residual model, or a
            classifier activation other than softmax/None with registered
            weights.
    """
    if weights is None or isinstance(weights, WeightsRequest):
        return weights
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "`weights` must be None, a file path or a registered name; "
            f"received {weights!r} of type {type(weights).__name__}."
        )
    weights = os.fspath(weights)
    model_name = model_name if isinstance(model_name, str) else None
    if is_hub_id(weights):
        return _resolve_hub_id(model_name, weights)
    entry = get_weights_entry(model_name, weights) if model_name else None
    if entry is None:
        return _resolve_path(model_name, weights)
    if include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            f"With pretrained weights ({weights!r}), `classifier_activation` "
            f"must be None or 'softmax'; received {classifier_activation!r}."
        )
    weights_file = entry.top or entry.notop
    checkpoint = None
    if weights_file.file_name.endswith(STATE_DICT_SUFFIXES):
        checkpoint = read_checkpoint(fetch_file(weights_file))
    return WeightsRequest(weights, "registered", entry=entry, checkpoint=checkpoint)


def _resolve_hub_id(model_name, weights):
    """A `WeightsRequest` for a Hub id: its config.json first (an
    unsupported or other architecture is refused before the weights are
    downloaded), then its model.safetensors."""
    config = read_hub_config(weights)
    if is_preset_config(config):
        source = model_from_preset(config, fetch_hub_weights(weights), weights)
        return WeightsRequest(weights, "preset", source_model=source)
    model = hub_model(config, weights)
    if model_name is not None and model_name != model:
        raise ValueError(
            f"`weights` {weights!r} holds a {config['architecture']!r} (built as "
            f"{model}), not a {model_name}. Build {model} with it, or call "
            f"keras_residual.create_model({weights!r})."
        )
    checkpoint = read_checkpoint(fetch_hub_weights(weights))
    return WeightsRequest(weights, "hub", checkpoint=checkpoint, hub_config=config)


def _resolve_path(model_name, weights):
    """A `WeightsRequest` for a path, or the error for what is neither a
    registered name nor an existing file."""
    config = preset_directory_config(weights)
    if config is not None:
        source = preset_from_folder(weights, config)
        return WeightsRequest(os.path.abspath(weights), "preset", source_model=source)
    if os.path.isdir(weights) or (
        weights.endswith(".keras") and os.path.isfile(weights)
    ):
        source = load_keras_source(weights)
        return WeightsRequest(os.path.abspath(weights), "keras", source_model=source)
    if os.path.isfile(weights):
        path = os.path.abspath(weights)
        if checkpoint_format(weights) in ("safetensors", "torch"):
            return WeightsRequest(path, "checkpoint", checkpoint=read_checkpoint(path))
        return WeightsRequest(path, "file")
    tags = weight_tags(model_name) if model_name else []
    looks_like_path = os.sep in weights or weights.endswith(
        (".h5", ".keras", *STATE_DICT_SUFFIXES)
    )
    if looks_like_path or not tags:
        raise ValueError(
            f"`weights` {weights!r} is neither a weights name registered for "
            f"{model_name or 'this model'!r} nor an existing file or run "
            "directory (not found). Pass an .h5, .weights.h5, .safetensors, "
            ".pth or .keras file, a run directory of keras_residual.train"
            + (f", one of {tags}" if tags else "")
            + ", or None."
        )
    raise ValueError(
        unknown_name_message("weights", weights, tags, kind="weights name")
        + " Or pass a path to a weights file or a run directory."
    )


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
    if request.kind in ("keras", "preset"):
        copy_weights(request.source_model, model, request.weights)
        if model.include_top and request.classes not in (None, model.classes):
            warn_new_classifier(model, repr(request.weights), request.classes, 3)
        return
    if request.kind == "file":
        if model.include_top:  # another number of classes: a new classifier
            load_weights_but_classifier(model, request.path)
        else:
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
            warn_new_classifier(model, f"{entry.tag!r} weights", entry.classes, 3)
        elif entry.notop is None:
            exclude = (CLASSIFIER_LAYER,)
    path = fetch_file(weights_file)
    load_weights(
        model,
        path,
        exclude=exclude,
        skip_missing=bool(exclude) and weights_file is entry.top,
    )


def warn_new_classifier(model, source, classes, stacklevel):
    """Says that `source` was loaded into every layer of `model` but its
    classifier, which stays new.

    Args:
        model: `keras.Model`. The model loaded into.
        source: str. What was loaded, as the message names it.
        classes: int or None. The weights' classes (None: no classifier).
        stacklevel: int. Frames between this call and the user's call.
    """
    warnings.warn(
        f"Loaded {source} into every layer of {model.name} except the "
        f"classifier {CLASSIFIER_LAYER!r}: the weights have {classes or 'no'} "
        f"classes and the model {model.classes}. Train the classifier before "
        "use.",
        stacklevel=stacklevel + 1,
    )


def _load_torch_checkpoint(model, checkpoint):
    """Loads a PyTorch checkpoint, leaving out a classifier of another
    number of classes (with a warning)."""
    classes = checkpoint.architecture.classes
    exclude = ()
    if model.include_top and classes != model.classes:
        exclude = (CLASSIFIER_LAYER,)
        warn_new_classifier(model, repr(checkpoint.path), classes, 4)
    load_checkpoint(model, checkpoint, exclude=exclude)
