"""The converter protocol: how a PyTorch state dict (timm, torchvision) is
recognised, which architecture it describes, and how its tensors map onto a
Keras model's layers, checked in full before anything is assigned.

A converter is registered once per family with `register_converter`; it
knows its family's key names only. The tensor layouts (OIHW kernels,
`running_var`, ...) are translated here, by layer type, for every family.
"""

import dataclasses
import difflib
import os

import numpy as np

from keras_residual.core.spec import ModelSpec
from keras_residual.utils.registry import Registry
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import adapt_input_channels
from keras_residual.weights.state_dict import checkpoint_format
from keras_residual.weights.state_dict import read_state_dict
from keras_residual.weights.state_dict import safetensors_header
from keras_residual.weights.value_checks import checked_value

CONVERTERS = Registry("checkpoint converter", "family")
# Buffers PyTorch keeps that have no Keras counterpart.
IGNORED_SUFFIXES = ("num_batches_tracked",)
# Keras variable name -> PyTorch tensor name, per layer type.
TORCH_NAMES = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


@dataclasses.dataclass(frozen=True)
class CheckpointArchitecture:
    """What a checkpoint holds.

    Args:
        family: str. The converter that read it (e.g. `"resnet"`).
        spec: `ModelSpec`. The architecture, in the checkpoint's own
            layout (padding, stride placement, BN epsilon).
        classes: int or None. Classes of its classifier; None without one.
        description: str. One line, e.g. `"resnet, depths (3, 4, 6, 3)"`.
    """

    family: str
    spec: ModelSpec
    classes: int = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class ModuleNames:
    """The Keras layer each PyTorch module of a family becomes.

    Args:
        fixed: dict. `{module path: layer name}`, e.g. `{"fc": "predictions"}`.
        patterns: tuple. `(regex, name_fn)` pairs tried in order; `name_fn(match)`
            returns the layer name, or None for a module it does not place.
    """

    fixed: dict
    patterns: tuple = ()

    def __call__(self, prefix):
        """The layer name of module `prefix` (e.g. `"layer1.0.conv1"`), or
        None.

        Args:
            prefix: str. The module path.
        """
        if prefix in self.fixed:
            return self.fixed[prefix]
        for pattern, name_fn in self.patterns:
            match = pattern.match(prefix)
            if match:
                return name_fn(match)
        return None


@dataclasses.dataclass(frozen=True)
class Converter:
    """A registered state-dict layout.

    Args:
        family: str. Its name.
        required_keys: frozenset of str. Tensor names every state dict of
            this layout has (and others lack).
        describe: callable. `describe(state) -> CheckpointArchitecture`.
        layer_name: callable. `layer_name(prefix) -> str or None`: the Keras
            layer a PyTorch module (`"layer1.0.conv1"`) becomes.
        normalize: callable or None. `normalize(state) -> state`: renames
            legacy keys first. Defaults to `None`.
        layer_values: callable or None. `layer_values(layer, tensors) ->
            list of arrays or None`: the values of a layer whose tensors do
            not map one to one (ViT's fused `qkv` into Keras'
            `MultiHeadAttention`); None leaves the layer to the generic
            mapping. Defaults to `None`.
    """

    family: str
    required_keys: frozenset
    describe: object
    layer_name: object
    normalize: object = None
    layer_values: object = None


def register_converter(
    family, *, required_keys, describe, layer_name, normalize=None, layer_values=None
):
    """Registers the state-dict layout of a family.

    Args:
        family: str. The family's name.
        required_keys: iterable of str. Tensor names that identify it.
        describe: callable. `describe(state) -> CheckpointArchitecture`.
        layer_name: callable. `layer_name(prefix) -> str or None`, e.g. a
            `ModuleNames`.
        normalize: callable or None. Renames legacy keys. Defaults to
            `None`.
        layer_values: callable or None. See `Converter.layer_values`.
            Defaults to `None`.
    """
    converter = Converter(
        family, frozenset(required_keys), describe, layer_name, normalize, layer_values
    )
    return CONVERTERS.register(family, converter)


def classes_of(state, key):
    """The number of classes of the classifier weight `key`, or None when
    the state dict has no classifier.

    Args:
        state: dict. `{name: array}`.
        key: str. The classifier's weight, e.g. `"fc.weight"`.
    """
    return int(state[key].shape[0]) if key in state else None


@dataclasses.dataclass(frozen=True)
class TorchCheckpoint:
    """A state dict read from a file, with the converter that reads it.

    Args:
        path: str. The file.
        state: dict. `{name: numpy array}`.
        converter: `Converter`. Its layout.
        architecture: `CheckpointArchitecture`. What it holds.
    """

    path: str
    state: dict
    converter: Converter
    architecture: CheckpointArchitecture


def read_checkpoint(path, tensors=True):
    """Reads a safetensors or torch state dict and recognises its layout.

    Args:
        path: str. The file.
        tensors: bool. Read the tensors; `False` reads only the names and
            shapes of a safetensors file (enough to describe it).
            Defaults to `True`.

    Raises:
        ValueError: unreadable file, or a layout no converter knows (a
            timm variant not supported, or another model altogether).
    """
    path = os.fspath(path)
    if not tensors and checkpoint_format(path) == "safetensors":
        state = {
            name: np.broadcast_to(np.float32(0), info["shape"])
            for name, info in safetensors_header(path).items()
        }
    else:
        state = read_state_dict(path)
    for _, converter in CONVERTERS.items():
        if converter.normalize is not None:
            candidate = converter.normalize(dict(state))
        else:
            candidate = state
        if converter.required_keys <= set(candidate):
            _check_known_keys(path, candidate, converter)
            architecture = converter.describe(candidate)
            return TorchCheckpoint(path, candidate, converter, architecture)
    sample = sorted(state)[:4]
    raise ValueError(
        f"`weights` file {path!r} is a state dict of no supported layout "
        f"(first keys {sample}); supported: timm/torchvision "
        f"{sorted(name for name, _ in CONVERTERS.items())}."
    )


def _check_known_keys(path, state, converter):
    unknown = sorted(
        key
        for key in state
        if not key.endswith(IGNORED_SUFFIXES)
        and converter.layer_name(key.rsplit(".", 1)[0]) is None
    )
    if unknown:
        raise ValueError(
            f"`weights` file {path!r} is a {converter.family} state dict with "
            f"{len(unknown)} tensors of a variant keras_residual does not "
            f"build (e.g. {unknown[:3]}); nothing was loaded."
        )


def checkpoint_assignments(model, checkpoint, exclude=()):
    """Pairs every variable of `model` with its checkpoint tensor, in Keras
    layout, checking names and shapes of all of them first.

    Args:
        model: `keras.Model`. The model to load into.
        checkpoint: `TorchCheckpoint`. The checkpoint.
        exclude: tuple of str. Layers to leave untouched (a classifier of
            another size). Defaults to `()`.

    Raises:
        ValueError: a missing, unexpected or misshapen tensor. Nothing is
            assigned.
    """
    by_layer = _tensors_by_layer(checkpoint)
    first_conv = next(
        (
            layer.name
            for layer in model.layers
            if len(layer.weights) and _is_conv(layer)
        ),
        None,
    )
    pairs, missing = [], []
    for layer in model.layers:
        if not layer.weights or layer.name in exclude:
            continue
        tensors = by_layer.pop(layer.name, None)
        if tensors is None:
            missing.append(layer.name)
            continue
        values = _layer_values(layer, tensors, checkpoint)
        shapes = [tuple(v.shape) for v in layer.weights]
        if layer.name == first_conv:
            values = adapt_input_channels(values, shapes, layer.name, model.name)
        values = [
            checked_value(
                variable, value, f"{checkpoint.path!r}: tensor of {variable.path!r}"
            )
            for variable, value in zip(layer.weights, values)
        ]
        found = [tuple(v.shape) for v in values]
        if found != shapes:
            raise _mismatch(
                model,
                checkpoint,
                f"layer {layer.name!r} expects shapes {shapes}, the "
                f"checkpoint has {found}",
            )
        pairs.extend(zip(layer.weights, values))
    by_layer.pop(CLASSIFIER_LAYER, None)  # a model without (this) classifier
    if missing:
        close = difflib.get_close_matches(missing[0], list(by_layer), n=3)
        raise _mismatch(
            model,
            checkpoint,
            f"{len(missing)} layers have no tensors (first {missing[:3]}"
            + (f"; close: {close}" if close else "")
            + ")",
        )
    if by_layer:
        raise _mismatch(
            model,
            checkpoint,
            f"{len(by_layer)} checkpoint layers have no Keras layer "
            f"(first {sorted(by_layer)[:3]})",
        )
    return pairs


def load_checkpoint(model, checkpoint, exclude=()):
    """Loads a `TorchCheckpoint` into `model`, all or nothing.

    Args:
        model: `keras.Model`. The model.
        checkpoint: `TorchCheckpoint`. From `read_checkpoint`.
        exclude: tuple of str. Layers to leave untouched. Defaults to `()`.
    """
    for variable, value in checkpoint_assignments(model, checkpoint, exclude):
        variable.assign(value)


def _tensors_by_layer(checkpoint):
    grouped = {}
    for key, value in checkpoint.state.items():
        if key.endswith(IGNORED_SUFFIXES):
            continue
        prefix, tensor_name = key.rsplit(".", 1)
        layer = checkpoint.converter.layer_name(prefix)
        grouped.setdefault(layer, {})[tensor_name] = value
    return grouped


def _is_conv(layer):
    return any(v.name == "kernel" and len(v.shape) == 4 for v in layer.weights)


def _layer_values(layer, tensors, checkpoint):
    """The values of every variable of `layer`: the converter's own where it
    has a `layer_values` hook for it, else one tensor per variable."""
    hook = checkpoint.converter.layer_values
    values = hook(layer, tensors) if hook is not None else None
    if values is not None:
        return values
    return [_keras_value(layer, v, tensors, checkpoint) for v in layer.weights]


def _keras_value(layer, variable, tensors, checkpoint):
    """One variable's value from the layer's PyTorch tensors: conv kernels
    OIHW -> HWIO, dense kernels (out, in) -> (in, out)."""
    torch_name = TORCH_NAMES.get(variable.name, variable.name)
    if torch_name not in tensors:
        raise ValueError(
            f"`weights` checkpoint {checkpoint.path!r} has no "
            f"{torch_name or variable.name!r} tensor for layer {layer.name!r} "
            f"(it has {sorted(tensors)}); nothing was loaded."
        )
    value = np.asarray(tensors[torch_name], dtype=np.float32)
    if variable.name == "kernel" and len(variable.shape) == 4 and value.ndim == 4:
        return value.transpose(2, 3, 1, 0)
    if variable.name == "kernel" and len(variable.shape) == 2:
        return value.reshape(value.shape[0], -1).T
    return value


def _mismatch(model, checkpoint, detail):
    return ValueError(
        f"`weights` file {checkpoint.path!r} ({checkpoint.architecture.description})"
        f" does not fit {model.name}: {detail}. Nothing was loaded."
    )
