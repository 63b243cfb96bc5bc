"""Pretrained weights: the registry, hash-verified downloads and safe loading.

`weights=` accepts `None`, a file path, or a name registered for the model
with `register_weights`. Files may be the legacy `.h5` format of the
published keras.applications ImageNet files (loaded by layer order, as Keras
does) or Keras 3 `.weights.h5`. A file is checked against the model in full
before any variable is assigned, so a foreign or corrupt file is refused and
the model is left untouched.
"""

import dataclasses
import hashlib
import os
import shutil
import tempfile
import warnings

import h5py
import keras
import numpy as np

from keras_residual.atomic import atomic_path
from keras_residual.validation import unknown_name_message

_WEIGHTS = {}

CLASSIFIER_LAYER = "predictions"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable or packaged weights file.

    Args:
        url: str or None. Where to download it from.
        file_hash: str or None. Its sha256 (64 hex digits) or md5 hash.
        path: str or None. A local file shipped with a package; used instead
            of `url` when given.
    """

    url: str = None
    file_hash: str = None
    path: str = None

    @property
    def file_name(self):
        return os.path.basename(self.path or self.url)


@dataclasses.dataclass(frozen=True)
class WeightsEntry:
    """Weights registered for one model under one name.

    Args:
        model: str. The registered model name.
        tag: str. The weights name, e.g. `"imagenet"`.
        top: `WeightsFile` or None. Weights including the classifier.
        notop: `WeightsFile` or None. Weights without the classifier.
        classes: int. Classes of the classifier in `top`.
        input_channels: int. Channels the weights expect.
        description: str. One line.
    """

    model: str
    tag: str
    top: WeightsFile = None
    notop: WeightsFile = None
    classes: int = 1000
    input_channels: int = 3
    description: str = ""


def register_weights(model, tag, *, top=None, notop=None, classes=1000,
                     input_channels=3, description="", overwrite=False):
    """Registers pretrained weights so that `weights=tag` finds them.

    Args:
        model: str. The registered model name, e.g. `"ResNet50"`.
        tag: str. The weights name, e.g. `"imagenet"`.
        top: `WeightsFile`, dict or None. File with the classifier.
        notop: `WeightsFile`, dict or None. File without the classifier.
        classes: int. Classes of the `top` classifier. Defaults to `1000`.
        input_channels: int. Input channels. Defaults to `3`.
        description: str. One line. Defaults to `""`.
        overwrite: bool. Replace an existing entry. Defaults to `False`.
    """
    if top is None and notop is None:
        raise ValueError("register_weights needs a `top` or a `notop` file.")
    if (model, tag) in _WEIGHTS and not overwrite:
        raise ValueError(
            f"Weights {tag!r} are already registered for {model!r}; pass "
            "`overwrite=True` to replace them."
        )
    entry = WeightsEntry(
        model=model,
        tag=tag,
        top=WeightsFile(**top) if isinstance(top, dict) else top,
        notop=WeightsFile(**notop) if isinstance(notop, dict) else notop,
        classes=classes,
        input_channels=input_channels,
        description=description,
    )
    _WEIGHTS[(model, tag)] = entry
    return entry


def unregister_weights(model, tag):
    """Removes registered weights (used by tests and plugins)."""
    _WEIGHTS.pop((model, tag), None)


def list_weights(model=None):
    """Returns `{model: [tags]}`, or the tags of one model."""
    table = {}
    for (name, tag) in _WEIGHTS:
        table.setdefault(name, []).append(tag)
    return table.get(model, []) if model is not None else table


def get_weights_entry(model, tag):
    return _WEIGHTS.get((model, tag))


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
    entry = _WEIGHTS.get((model_name, weights))
    if entry is None and os.path.isfile(weights):
        return WeightsRequest(path=weights)
    if entry is None:
        tags = list_weights(model_name) if model_name else []
        looks_like_path = os.sep in weights or weights.endswith((".h5", ".keras"))
        if looks_like_path or not tags:
            raise ValueError(
                f"Weights file not found: received weights={weights!r}. "
                "Pass an existing .h5 or .weights.h5 file"
                + (f", or one of {tags}" if tags else "") + ", or None."
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
    """
    if request is None:
        return
    if request.path is not None:
        load_weights(model, request.path)
        return
    entry = request.entry
    channels = model.image_shape[-1]
    if channels != entry.input_channels:
        raise ValueError(
            f"Weights {entry.tag!r} of {entry.model} expect "
            f"{entry.input_channels} input channels; received input_shape "
            f"{model.image_shape} with {channels}."
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
    load_weights(model, path, exclude=exclude,
                 skip_missing=bool(exclude) and weights_file is entry.top)


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_matches(path, file_hash):
    """Checks `path` against a sha256 (64 hex digits) or md5 hash."""
    algorithm = "sha256" if len(file_hash) == 64 else "md5"
    return file_digest(path, algorithm) == file_hash.lower()


def cache_directory():
    """Where downloads are cached: `$KERAS_HOME/models`, else
    `~/.keras/models`, shared with keras.applications."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


def fetch_weights_file(weights_file):
    """Returns a local path for `weights_file`, downloading it if needed.

    Downloads go through `keras.utils.get_file` (with its progress bar) into
    a staging folder; only a file whose hash matches is moved into the cache,
    so a failed or corrupt download leaves nothing cached.
    """
    if weights_file.path is not None:
        if not os.path.isfile(weights_file.path):
            raise ValueError(
                f"Packaged weights file is missing: {weights_file.path}. "
                "Reinstall keras-residual."
            )
        if weights_file.file_hash and not hash_matches(
                weights_file.path, weights_file.file_hash):
            raise ValueError(
                f"Packaged weights file {weights_file.path} does not match "
                f"its registered hash {weights_file.file_hash} (corrupt or "
                "replaced); nothing was loaded. Reinstall keras-residual.")
        return weights_file.path
    cache = cache_directory()
    target = os.path.join(cache, weights_file.file_name)
    if os.path.isfile(target) and (
        weights_file.file_hash is None
        or hash_matches(target, weights_file.file_hash)
    ):
        return target
    os.makedirs(cache, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".download-", dir=cache)
    try:
        try:
            staged = keras.utils.get_file(
                weights_file.file_name,
                weights_file.url,
                cache_dir=staging,
                cache_subdir="staging",
            )
        except Exception as error:  # get_file raises bare Exception
            raise OSError(
                f"Could not download weights from {weights_file.url} "
                f"({error}). Without network access, fetch that file "
                "elsewhere and pass its path instead: weights='/path/to/"
                f"{weights_file.file_name}'."
            ) from error
        if weights_file.file_hash and not hash_matches(
            staged, weights_file.file_hash
        ):
            raise ValueError(
                f"The file downloaded from {weights_file.url} does not match "
                f"its registered hash {weights_file.file_hash}; it was "
                "discarded and nothing was cached."
            )
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


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
            f"Keras 3's format); received {path!r}.")
    with atomic_path(path, suffix=".h5") as temporary:
        with h5py.File(temporary, "w") as handle:
            handle.attrs["layer_names"] = [
                layer.name.encode("utf8") for layer in model.layers]
            handle.attrs["backend"] = keras.backend.backend().encode("utf8")
            handle.attrs["keras_version"] = keras.__version__.encode("utf8")
            for layer in model.layers:
                group = handle.create_group(layer.name)
                names = [f"{layer.name}/{variable.path.split('/')[-1]}:{index}"
                         for index, variable in enumerate(layer.weights)]
                group.attrs["weight_names"] = [n.encode("utf8") for n in names]
                for name, variable in zip(names, layer.weights):
                    group.create_dataset(
                        name, data=keras.ops.convert_to_numpy(variable))
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
    if not os.path.isfile(path):
        raise ValueError(f"Weights file not found: {path!r}.")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"Weights file {path!r} is not a readable HDF5 file (corrupt, "
            f"truncated or another format): {error}."
        ) from None
    with handle:
        if _is_legacy(handle):
            group = handle["model_weights"] if "model_weights" in handle else handle
            pairs = _legacy_assignments(model, group, path, exclude, skip_missing)
        elif "layers" in handle or "vars" in handle:
            pairs = None
            if exclude:
                raise ValueError(
                    f"{path!r} is a Keras 3 .weights.h5 file; loading all but "
                    f"{list(exclude)} needs a legacy .h5 file or "
                    "include_top=False."
                )
            _check_keras3_structure(model, handle, path)
        else:
            raise ValueError(
                f"{path!r} is an HDF5 file but not a Keras weights file "
                "(neither legacy 'layer_names' nor Keras 3 'layers')."
            )
    if pairs is not None:
        for variable, value in pairs:
            variable.assign(value)
        return
    snapshot = [v.numpy() if hasattr(v, "numpy") else np.asarray(v)
                for v in model.weights]
    try:
        model.load_weights(path)
    except Exception as error:
        for variable, value in zip(model.weights, snapshot):
            variable.assign(value)
        raise ValueError(
            f"Could not load {path!r} into {model.name}: {error}. The model "
            "was left unchanged."
        ) from error


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
        saved = saved[:-len(exclude)] if len(saved) >= len(exclude) else saved
    targets = [l for l in model.layers if l.weights and l.name not in exclude]
    if len(saved) != len(targets):
        raise ValueError(
            f"Weights file {path!r} does not fit {model.name}: it holds "
            f"{len(saved)} layers with weights, the model expects "
            f"{len(targets)}. It belongs to another architecture (or "
            "another include_top); nothing was loaded."
        )
    pairs = []
    for index, ((saved_name, values), layer) in enumerate(zip(saved, targets)):
        variables = layer.weights
        shapes = [tuple(v.shape) for v in variables]
        saved_shapes = [tuple(v.shape) for v in values]
        if shapes != saved_shapes:
            raise ValueError(
                f"Weights file {path!r} does not fit {model.name}: layer "
                f"#{index} ({layer.name!r} in the model, {saved_name!r} in the "
                f"file) expects shapes {shapes}, the file has {saved_shapes}. "
                "Nothing was loaded."
            )
        pairs.extend((v, np.asarray(value)) for v, value in zip(variables, values))
    return pairs


def _dataset_shapes(handle):
    shapes = {}
    handle.visititems(
        lambda name, item: shapes.__setitem__(name, item.shape)
        if isinstance(item, h5py.Dataset) else None
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
        wrong = sorted(k for k in set(expected) & set(found)
                       if expected[k] != found[k])[:3]
        raise ValueError(
            f"Weights file {path!r} does not fit {model.name}: "
            f"{len(found)} variables in the file, {len(expected)} in the "
            f"model; missing {missing}, unexpected {extra}, shape "
            f"mismatches {wrong}. Nothing was loaded."
        )
