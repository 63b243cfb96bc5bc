"""Finding models and weights, as timm's `list_models` and `list_pretrained`
do: fnmatch patterns over the zoo, and each registered weights entry with
its top-1, source, licence and size."""

import dataclasses
import functools
import os

from keras_residual.core.builder import ResidualModel
from keras_residual.models.zoo import MODELS
from keras_residual.utils.model_patterns import matching_models
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import weight_tags


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """One registered weights entry, as `list_weights(model)` lists it.

    Args:
        tag: str. What `weights=` takes, e.g. `"imagenet"`.
        top1: float or None. The top-1 accuracy (%) its publisher reports.
        source: str. Where the weights come from.
        license: str. Their licence, as the publisher states it.
        size_mb: float. The float32 weights in MB (1e6 bytes): the packaged
            file's size, else the model's parameters times 4 bytes.
        classes: int. Classes of the classifier.
        input_size: int or None. The image size of `top1`.
        preprocessing: `Preprocessing` or None. How their inputs were
            scaled (a named mode equals its name, e.g. `"torch"`).
        description: str. One line.
    """

    tag: str
    top1: float
    source: str
    license: str
    size_mb: float
    classes: int
    input_size: int
    preprocessing: object
    description: str


def list_models(pattern=None, pretrained=False):
    """Returns `{name: one-line description}` of the registered models.

    Args:
        pattern: str, sequence of str or None. fnmatch patterns such as
            `"resnet5*"` or `"*densenet*"`, matched without regard to case
            against the model's name, its weights tags (timm's ids, such as
            `"resnet50.a1_in1k"`) and `"name.tag"` (`"*.digits"`); a model
            matching any is listed. Defaults to `None` (every model).
        pretrained: bool. Only models with registered weights. Defaults to
            `False`.
    """
    models = {
        name: (entry.description, weight_tags(name)) for name, entry in MODELS.items()
    }
    return matching_models(models, pattern, pretrained)


def list_weights(model=None):
    """The registered weights: `{model: [tags]}`, or for one model
    `{tag: WeightsInfo}` (its top-1, source, licence and size).

    Args:
        model: str or None. A registered model name. Defaults to `None`
            (every model, tags only).
    """
    if model is None:
        return weight_tags()
    MODELS.get(model)  # an unknown name is refused with close matches
    return {tag: _info(model, tag) for tag in weight_tags(model)}


def _info(model, tag):
    entry = get_weights_entry(model, tag)
    packaged = (entry.top or entry.notop).path
    if packaged is not None and os.path.isfile(packaged):
        size = os.path.getsize(packaged)
    else:
        size = 4 * _parameters(
            model, entry.classes, entry.input_channels, entry.input_size
        )
    return WeightsInfo(
        tag=tag,
        top1=entry.top1,
        source=entry.source,
        license=entry.license,
        size_mb=round(size / 1e6, 1),
        classes=entry.classes,
        input_size=entry.input_size,
        preprocessing=entry.preprocessing,
        description=entry.description,
    )


@functools.cache
def _parameters(model, classes, channels, size):
    """The parameter count of `model` with its classifier (built once)."""
    spec = MODELS.get(model).spec
    size = size or spec.default_size
    return ResidualModel(
        spec, input_shape=(size, size, channels), classes=classes
    ).count_params()
