"""The weights registry: which pretrained files `weights="name"` finds for a
model, and the one helper that registers keras.applications' published
files."""

import dataclasses

from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.utils.download import WeightsFile
from keras_residual.utils.registry import Registry

WEIGHTS = Registry("weights", "weights")

# For weights whose publisher states no licence.
UNSTATED_LICENSE = "not stated by the publisher"
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
TIMM_HUB_URL = "https://huggingface.co/timm/"


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
        preprocessing: `Preprocessing` or None. How the inputs of the
            weights were scaled (a mode name, e.g. `"caffe"`, compares
            equal to its instance).
        input_size: int or None. The image size they were trained at, or
            evaluated at where those differ (the size of `top1`).
        class_names: tuple of str or None. Names of the classes; None for
            the 1000 ImageNet classes (see `decode_predictions`).
        source: str. Where the weights come from.
        license: str. Their licence, as the publisher states it.
        top1: float or None. The top-1 accuracy (%) their publisher reports.
        front_end: dict or None. An audio model's `AudioFrontEnd` config
            (models built with the weights take its samples); None for
            images.
    """

    model: str
    tag: str
    top: WeightsFile = None
    notop: WeightsFile = None
    classes: int = 1000
    input_channels: int = 3
    description: str = ""
    preprocessing: Preprocessing = None
    input_size: int = None
    class_names: tuple = None
    source: str = ""
    license: str = ""
    top1: float = None
    front_end: dict = None


def register_weights(
    model,
    tag,
    *,
    top=None,
    notop=None,
    classes=1000,
    input_channels=3,
    description="",
    preprocessing=None,
    input_size=None,
    class_names=None,
    source="",
    license="",
    top1=None,
    front_end=None,
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
        preprocessing: str, dict, `Preprocessing` or None. How the inputs
            of the weights were scaled; models built with them record it.
            Defaults to `None` (unknown).
        input_size: int or None. Training image size. Defaults to `None`.
        class_names: sequence of str or None. Class names. Defaults to
            `None`.
        source: str. Where they come from. Defaults to `""`.
        license: str. Their licence. Defaults to `""`.
        top1: float or None. Published top-1 accuracy (%). Defaults to
            `None`.
        front_end: dict or None. An audio model's `AudioFrontEnd` config.
            Defaults to `None` (image weights).
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
        preprocessing=as_preprocessing(preprocessing),
        input_size=input_size,
        class_names=None if class_names is None else tuple(map(str, class_names)),
        source=source,
        license=license,
        top1=top1,
        front_end=None if front_end is None else dict(front_end),
    )
    if entry.class_names is not None and len(entry.class_names) != classes:
        raise ValueError(
            f"`class_names` has {len(entry.class_names)} names; `classes` is {classes}."
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


def weight_tags(model=None):
    """Returns `{model: [tags]}`, or the tags of one model (what
    `list_weights` describes).

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


def register_keras_applications_weights(
    model, family, file_stem, top_hash, notop_hash, *, preprocessing, top1, license
):
    """Registers keras.applications' published ImageNet files for `model`
    under `weights="imagenet"`.

    Args:
        model: str. The registered model name, e.g. `"ResNet50"`.
        family: str. The folder of the published files (`"resnet"`,
            `"densenet"`).
        file_stem: str. The file name's start, e.g. `"resnet50"`.
        top_hash: str. The md5 of the file with the classifier.
        notop_hash: str. The md5 of the file without it.
        preprocessing: str. The mode the weights were trained with.
        top1: float. ImageNet top-1 (%) in keras.applications' table.
        license: str. The licence keras.applications states.
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
        preprocessing=preprocessing,
        input_size=224,
        source=f"keras.applications ({KERAS_APPLICATIONS_URL}{family}/)",
        license=license,
        top1=top1,
    )


def register_timm_weights(
    model, tag, *, top1, license, top1_source="timm", preprocessing="torch"
):
    """Registers timm's ImageNet weights `tag` (its Hugging Face Hub
    repository `timm/{tag}`) for `model`; the model is built in their
    layout (see `keras_residual.from_checkpoint`).

    Args:
        model: str. The registered model name, e.g. `"ResNet50"`.
        tag: str. timm's name, e.g. `"resnet50.a1_in1k"`.
        top1: float. ImageNet top-1 (%) at 224 px.
        license: str. The licence timm states for them.
        top1_source: str. Whose table `top1` comes from. Defaults to
            `"timm"`.
        preprocessing: str. The input scaling the weights were trained
            with: `"torch"` (ImageNet mean and std) or `"tf"` (mean and
            std 0.5, timm's augreg ViTs). Defaults to `"torch"`.
    """
    return register_weights(
        model,
        tag,
        top={"hub_repo": f"timm/{tag}", "hub_filename": "model.safetensors"},
        classes=1000,
        description=f"timm ImageNet-1k weights {tag} (top-1 {top1}%, {top1_source}).",
        preprocessing=preprocessing,
        input_size=224,
        source=f"timm, Hugging Face Hub ({TIMM_HUB_URL}{tag})",
        license=license,
        top1=top1,
    )
