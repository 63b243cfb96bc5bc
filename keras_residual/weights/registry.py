"""The weights registry: which pretrained files `weights="name"` finds for a
model, and the one helper that registers keras.applications' published
files."""

import dataclasses

from keras_residual.utils.download import WeightsFile
from keras_residual.utils.registry import Registry

WEIGHTS = Registry("weights", "weights")

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def weights_key(model, tag):
    """The registry key of `tag` weights for `model`: `"{model}/{tag}"`.

    Args:
        model: str. The registered model name.
        tag: str. The weights name.
    """
    return f"{model}/{tag}"


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


def register_weights(
    model,
    tag,
    *,
    top=None,
    notop=None,
    classes=1000,
    input_channels=3,
    description="",
    overwrite=False,
):
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
    key = weights_key(model, tag)
    if key in WEIGHTS and not overwrite:
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
    return WEIGHTS.register(key, entry, overwrite=True)


def unregister_weights(model, tag):
    """Removes registered weights, if any (used by tests and plugins).

    Args:
        model: str. The registered model name.
        tag: str. The weights name.
    """
    key = weights_key(model, tag)
    if key in WEIGHTS:
        WEIGHTS.unregister(key)


def list_weights(model=None):
    """Returns `{model: [tags]}`, or the tags of one model.

    Args:
        model: str or None. A model name. Defaults to `None` (all models).
    """
    table = {}
    for _, entry in WEIGHTS.items():
        table.setdefault(entry.model, []).append(entry.tag)
    return table.get(model, []) if model is not None else table


def get_weights_entry(model, tag):
    """Returns the `WeightsEntry` of `tag` for `model`, or None.

    Args:
        model: str or None. The registered model name.
        tag: str. The weights name.
    """
    key = weights_key(model, tag)
    return WEIGHTS.get(key) if key in WEIGHTS else None


def register_keras_applications_weights(model, family, file_stem, top_hash, notop_hash):
    """Registers keras.applications' published ImageNet files for `model`
    under `weights="imagenet"`.

    Args:
        model: str. The registered model name, e.g. `"ResNet50"`.
        family: str. The folder of the published files (`"resnet"`,
            `"densenet"`).
        file_stem: str. The file name's start, e.g. `"resnet50"`.
        top_hash: str. The md5 of the file with the classifier.
        notop_hash: str. The md5 of the file without it.
    """
    base = (
        f"{KERAS_APPLICATIONS_URL}{family}/{file_stem}"
        "_weights_tf_dim_ordering_tf_kernels"
    )
    return register_weights(
        model,
        "imagenet",
        top={"url": f"{base}.h5", "file_hash": top_hash},
        notop={"url": f"{base}_notop.h5", "file_hash": notop_hash},
        classes=1000,
        description="keras.applications ImageNet weights.",
    )
