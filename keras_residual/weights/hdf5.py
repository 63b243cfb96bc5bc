"""Reading and writing weight files: the legacy HDF5 layout of the published
keras.applications files (loaded by layer order, as Keras does) and Keras 3
`.weights.h5`. A file is checked against the model in full before any
variable is assigned, so a foreign or corrupt file is refused and the model
is left untouched."""

import os
import tempfile
import warnings

import h5py
import keras
import numpy as np

from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.files import check_regular_file
from keras_residual.weights.hdf5_safety import check_hdf5_file
from keras_residual.weights.value_checks import check_weight_value
from keras_residual.weights.value_checks import checked_value

CLASSIFIER_LAYER = "predictions"


def save_legacy_weights(model, path):
    """Writes `model`'s weights atomically in the legacy Keras HDF5 layout
    of the keras.applications files (`layer_names`, per-layer
    `weight_names`), which `load_weights` can load all but the classifier
    from, and which Keras' own `model.load_weights` reads too.

    Args:
        model: `keras.Model`. The model.
        path: str. The destination, ending in `.h5` (not `.weights.h5`).
    """
    path = os.fspath(path)
    if not path.endswith(".h5") or path.endswith(".weights.h5"):
        raise ValueError(
            "`path` must end in '.h5' but not '.weights.h5' (that suffix is "
            f"Keras 3's format); received {path!r}."
        )
    with atomic_path(path, suffix=".h5") as temporary:
        with h5py.File(temporary, "w") as handle:
            handle.attrs["layer_names"] = [
                layer.name.encode("utf8") for layer in model.layers
            ]
            handle.attrs["backend"] = keras.backend.backend().encode("utf8")
            handle.attrs["keras_version"] = keras.__version__.encode("utf8")
            for layer in model.layers:
                group = handle.create_group(layer.name)
                names = [
                    f"{layer.name}/{variable.path.split('/')[-1]}:{index}"
                    for index, variable in enumerate(layer.weights)
                ]
                group.attrs["weight_names"] = [n.encode("utf8") for n in names]
                for name, variable in zip(names, layer.weights):
                    value = keras.ops.convert_to_numpy(variable)
                    # Fletcher-32: a flipped byte fails the read.
                    group.create_dataset(name, data=value, fletcher32=value.ndim > 0)
    return path


def load_weights(model, path, exclude=(), skip_missing=False):
    """Loads a weights file into `model`, checking it in full first.

    Args:
        model: `keras.Model`. The model to load into.
        path: str. A legacy `.h5` (keras.applications) or Keras 3
            `.weights.h5` file.
        exclude: tuple of str. Layer names to leave untouched (legacy files
            only). Defaults to `()`.
        skip_missing: bool. The file holds the excluded layers too and they
            are skipped (a `top` file loaded into a model with another
            number of classes). Defaults to `False`.

    Raises:
        ValueError: missing, unreadable or foreign file. Nothing is assigned.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"`weights` {path!r} is a directory; pass a weights file (.h5 or "
            ".weights.h5) inside it."
        )
    if not os.path.lexists(path):
        raise ValueError(f"`weights` file not found: {path!r}.")
    check_regular_file(path, "`weights` file")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"`weights` file {path!r} is not a readable HDF5 file (corrupt, "
            f"truncated or another format): {error}. Expected a Keras .h5 or "
            ".weights.h5 file, or a timm/torchvision .safetensors or .pth file."
        ) from None
    with handle:
        try:
            pairs = _inspect(handle, model, path, exclude, skip_missing)
        except (
            KeyError,
            OSError,
            RuntimeError,  # RecursionError too: a hard-link cycle
            IndexError,
            AttributeError,
        ) as error:  # h5py's answers to a damaged file
            raise ValueError(
                f"`weights` file {path!r} is corrupt: {type(error).__name__} "
                f"reading it ({str(error)[:200]}). Nothing was loaded."
            ) from None
    if pairs is not None:
        # Every value checked and cast before the first is assigned.
        for variable, value in pairs:
            variable.assign(value)
        return
    snapshot = [
        v.numpy() if hasattr(v, "numpy") else np.asarray(v) for v in model.weights
    ]
    try:
        model.load_weights(path)
        for variable in model.weights:
            value = keras.ops.convert_to_numpy(variable)
            check_weight_value(variable.path, value, f"file {path!r}")
    except Exception as error:
        for variable, value in zip(model.weights, snapshot):
            variable.assign(value)
        raise ValueError(
            f"Could not load {path!r} into {model.name}: {error}. The model "
            "was left unchanged."
        ) from error


def _inspect(handle, model, path, exclude, skip_missing):
    """Checks an open weights file in full; returns the legacy file's
    `(variable, value)` pairs, or None for a Keras 3 file (which Keras
    loads once the structure is checked)."""
    _check_readable(handle, path, _dataset_read_limit(model))
    if _is_legacy(handle):
        group = handle["model_weights"] if "model_weights" in handle else handle
        return _legacy_assignments(model, group, path, exclude, skip_missing)
    if "layers" in handle or "vars" in handle:
        if exclude:
            raise ValueError(
                f"{path!r} is a Keras 3 .weights.h5 file; loading all but "
                f"{list(exclude)} needs a legacy .h5 file or "
                "include_top=False."
            )
        _check_keras3_structure(model, handle, path)
        return None
    raise ValueError(
        f"{path!r} is an HDF5 file but not a Keras weights file "
        "(neither legacy 'layer_names' nor Keras 3 'layers')."
    )


# Datasets up to this size are read and then compared by shape; beyond it,
# only a dataset the model's largest variable could need (16x, for float64
# and files of wider models) is read at all.
READ_FLOOR_BYTES = 256 * 1024 * 1024


def _dataset_read_limit(model):
    """The largest dataset worth reading for `model`: 16 times its largest
    variable's float32 bytes, at least `READ_FLOOR_BYTES`. A larger one
    cannot be its weights, and reading it could exhaust memory (a tiny
    compressed file can declare gigabytes)."""
    largest = max((int(np.prod(v.shape)) * 4 for v in model.weights), default=0)
    return max(16 * largest, READ_FLOOR_BYTES)


def _check_readable(handle, path, max_dataset_bytes=None):
    """Links, external storage and NaNs refused (see `hdf5_safety`); a
    checksum (Fletcher-32) or read error becomes a `ValueError`."""
    try:
        check_hdf5_file(handle, path, max_dataset_bytes)
    except OSError as error:
        raise ValueError(
            f"`weights` file {path!r} is corrupt: reading it failed ({error}). "
            "Nothing was loaded."
        ) from None


def load_weights_but_classifier(model, path):
    """Loads a weights file into `model`; where the file's classifier has
    another number of classes (or none), everything but the classifier,
    which keeps its initial values. All or nothing, as `load_weights`.

    Args:
        model: `keras.Model`. A model whose classifier is `predictions`.
        path: str. A legacy `.h5` or Keras 3 `.weights.h5` file.
    """
    saved = _legacy_classifier_shapes(path)
    if saved is None:  # Keras 3 file, or no legacy layout: load it whole
        load_weights(model, path)
        return
    ours = [tuple(v.shape) for v in model.get_layer(CLASSIFIER_LAYER).weights]
    if saved == ours:
        load_weights(model, path)
    else:
        load_weights(model, path, exclude=(CLASSIFIER_LAYER,), skip_missing=bool(saved))


def _legacy_classifier_shapes(path):
    """The shapes of the classifier's variables in a legacy file (`[]` when
    it has none), or None for a file that is not legacy or not readable (left
    to `load_weights` to explain)."""
    try:
        handle = h5py.File(path, "r")
    except OSError:
        return None
    with handle:
        if not _is_legacy(handle):
            return None
        group = handle["model_weights"] if "model_weights" in handle else handle
        if CLASSIFIER_LAYER not in _read_attribute(group, "layer_names"):
            return []
        layer = group[CLASSIFIER_LAYER]
        return [tuple(layer[n].shape) for n in _read_attribute(layer, "weight_names")]


def _is_legacy(handle):
    group = handle["model_weights"] if "model_weights" in handle else handle
    return any(key.startswith("layer_names") for key in group.attrs)


def _read_attribute(group, name):
    """Reads a (possibly chunked) string-list attribute of a legacy file."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if hasattr(v, "decode") else str(v) for v in values]


def _legacy_assignments(model, group, path, exclude, skip_missing):
    """Pairs every model variable with its value in a legacy file, by layer
    order, and checks counts and shapes before anything is assigned."""
    saved = []
    for layer_name in _read_attribute(group, "layer_names"):
        layer_group = group[layer_name]
        names = _read_attribute(layer_group, "weight_names")
        if names:
            saved.append((layer_name, [layer_group[n] for n in names]))
    if skip_missing:
        saved = saved[: -len(exclude)] if len(saved) >= len(exclude) else saved
    targets = [
        layer for layer in model.layers if layer.weights and layer.name not in exclude
    ]
    if len(saved) != len(targets):
        raise ValueError(
            f"`weights` file {path!r} does not fit {model.name}: it holds "
            f"{len(saved)} layers with weights, the model expects "
            f"{len(targets)}. It belongs to another architecture (or "
            "another include_top); nothing was loaded."
        )
    pairs = []
    for index, ((saved_name, values), layer) in enumerate(zip(saved, targets)):
        variables = layer.weights
        shapes = [tuple(v.shape) for v in variables]
        values = [np.asarray(value) for value in values]
        if index == 0:
            values = adapt_input_channels(values, shapes, layer.name, model.name)
        saved_shapes = [tuple(v.shape) for v in values]
        if shapes != saved_shapes:
            raise ValueError(
                f"`weights` file {path!r} does not fit {model.name}: layer "
                f"#{index} ({layer.name!r} in the model, {saved_name!r} in the "
                f"file) expects shapes {shapes}, the file has {saved_shapes}. "
                "Nothing was loaded."
            )
        pairs.extend(
            (
                variable,
                checked_value(variable, value, f"file {path!r}: layer {saved_name!r}"),
            )
            for variable, value in zip(variables, values)
        )
    return pairs


def adapt_input_channels(values, shapes, layer_name, model_name):
    """Adapts the first convolution's weights to a model with another
    number of input channels, as timm's `adapt_input_conv` does, in both
    directions: RGB weights are summed over their channels for 1 channel,
    and repeated and scaled by `3 / N` for N channels; 1-channel (grey)
    weights are repeated and scaled by `1 / N` for N channels. An image
    whose channels are all equal to `g` then gives what the original model
    gives for `g`. Anything else is left as it is (and refused by the
    shape check).

    Args:
        values: list of arrays. The layer's saved variables, kernel first.
        shapes: list of tuple. The model layer's variable shapes.
        layer_name: str. The layer, for the warning.
        model_name: str. The model, for the warning.
    """
    kernel, expected = values[0], shapes[0]
    if (
        kernel.ndim != 4
        or len(expected) != 4
        or kernel.shape[2] not in (1, 3)
        or expected[2] == kernel.shape[2]
        or kernel.shape[:2] + kernel.shape[3:] != expected[:2] + expected[3:]
    ):
        return values
    saved, channels = kernel.shape[2], expected[2]
    source = "RGB" if saved == 3 else "grey (1-channel)"
    if channels == 1:
        adapted = kernel.sum(axis=2, keepdims=True)
        how = "summed over its RGB channels"
    else:
        repeats = -(-channels // saved)
        adapted = np.tile(kernel, (1, 1, repeats, 1))[:, :, :channels] * (
            saved / channels
        )
        how = f"its channel(s) repeated and scaled by {saved}/{channels}"
    warnings.warn(
        f"Adapted the {source} weights of {layer_name!r} to {model_name}'s "
        f"{channels} input channel(s): {how} (timm's adapt_input_conv). "
        "Fine-tune before relying on the model.",
        stacklevel=4,
    )
    return [adapted.astype(kernel.dtype), *values[1:]]


def _dataset_shapes(handle):
    shapes = {}
    handle.visititems(
        lambda name, item: (
            shapes.__setitem__(name, item.shape)
            if isinstance(item, h5py.Dataset)
            else None
        )
    )
    return shapes


def _check_keras3_structure(model, handle, path):
    """Compares a `.weights.h5` file's variables with the model's own."""
    with tempfile.TemporaryDirectory() as folder:
        reference = os.path.join(folder, "reference.weights.h5")
        model.save_weights(reference)
        with h5py.File(reference, "r") as own:
            expected = _dataset_shapes(own)
    found = _dataset_shapes(handle)
    if expected != found:
        missing = sorted(set(expected) - set(found))[:3]
        extra = sorted(set(found) - set(expected))[:3]
        wrong = sorted(
            k for k in set(expected) & set(found) if expected[k] != found[k]
        )[:3]
        raise ValueError(
            f"`weights` file {path!r} does not fit {model.name}: "
            f"{len(found)} variables in the file, {len(expected)} in the "
            f"model; missing {missing}, unexpected {extra}, shape "
            f"mismatches {wrong}. Nothing was loaded."
        )
