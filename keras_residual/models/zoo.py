"""The model registry, `build()` and keras.applications-style entry points."""

import dataclasses

from keras_residual.core.application import application_function
from keras_residual.core.builder import ResidualModel
from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.spec import ModelSpec
from keras_residual.models.overrides import apply_overrides
from keras_residual.models.weights_request import checkpoint_spec
from keras_residual.models.weights_request import load_requested_weights
from keras_residual.models.weights_request import resolve_weights
from keras_residual.utils.registry import Registry

MODELS = Registry("model", "model")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Args:
        name: str. The registered name, e.g. `"ResNet50"`.
        spec: `ModelSpec`. Its architecture.
        description: str. One line for `list_models()`.
        classes: int. Default number of classes.
        preprocessing: `Preprocessing` or None. How its inputs are scaled
            (a keras.applications mode: `"caffe"`, `"tf"` or `"torch"`).
    """

    name: str
    spec: ModelSpec
    description: str
    classes: int = 1000
    preprocessing: Preprocessing = MODES["caffe"]


def register_model(
    name, spec, *, description, classes=1000, preprocessing="caffe", overwrite=False
):
    """Registers a model spec and returns its keras.applications-style
    entry point (`include_top`, `weights`, `input_tensor`, `input_shape`,
    `pooling`, `classes`, `classifier_activation`, `name`, plus overrides).

    Args:
        name: str. The model name.
        spec: `ModelSpec`. The architecture.
        description: str. One line.
        classes: int. Default number of classes. Defaults to `1000`.
        preprocessing: str, dict or `Preprocessing`. How its inputs are
            scaled. Defaults to `"caffe"`.
        overwrite: bool. Replace an existing model. Defaults to `False`.
    """
    MODELS.register(
        name,
        ModelEntry(name, spec, description, classes, as_preprocessing(preprocessing)),
        overwrite=overwrite,
    )
    return _entry_point(name, classes)


def get_model_entry(name):
    """Returns the `ModelEntry` registered under `name`.

    Args:
        name: str. A registered model name.
    """
    return MODELS.get(name)


def get_spec(name):
    """Returns the `ModelSpec` registered under `name`.

    Args:
        name: str. A registered model name.
    """
    return MODELS.get(name).spec


def model_spec(model, **overrides):
    """The spec `build(model, **overrides)` builds (without weights).

    Args:
        model: str, `ModelSpec` or dict. A registered name or a spec.
        **overrides: `apply_overrides` arguments.
    """
    return apply_overrides(_registered_spec(model)[0], **overrides)


def _registered_spec(model):
    """`(spec, registered name or None, default classes)` of `model`: a
    registered name, a `ModelSpec` or its dict."""
    if isinstance(model, str):
        entry = MODELS.get(model)
        return entry.spec, entry.name, entry.classes
    if isinstance(model, (ModelSpec, dict)):
        spec = model if isinstance(model, ModelSpec) else ModelSpec.from_dict(model)
        return spec, None, 1000
    raise TypeError(
        "`model` must be a registered model name, a ModelSpec or its "
        f"dict; received {model!r} of type {type(model).__name__}."
    )


def build(
    model,
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name=None,
    preprocessing=None,
    class_names=None,
    front_end=None,
    **overrides,
):
    """Builds a model from a registered name or a spec.

    Args:
        model: str, `ModelSpec` or dict. A name from `list_models()`, or a
            spec (`ModelSpec`, its dict or its JSON-decoded dict).
        include_top: bool. Add the pooling and `predictions` classifier.
            Defaults to `True`.
        weights: None, str or path. A name registered for the model (e.g.
            `"imagenet"`), a weights file (`.h5`, `.weights.h5`), a
            timm/torchvision state dict (`.safetensors`, `.pth`), a `.keras`
            file, a run directory of `train()`, a Hub id or a preset folder
            (`save_to_preset`); another number of
            `classes` leaves the classifier new, with a warning. Defaults to
            `None`.
        input_tensor: tensor or None. Optional input tensor.
        input_shape: tuple or None. `(height, width, channels)`.
        pooling: None, `"avg"` or `"max"`. Pooling for `include_top=False`.
        classes: int or None. Classifier size; defaults to the model's.
        classifier_activation: str or None. Defaults to `"softmax"`.
        name: str or None. Model name; defaults to the lower-case model name.
        preprocessing: str or None. The input preprocessing the model
            records (`"tf"`, `"caffe"` or `"torch"`; see
            `ResidualModel`). Defaults to the registered weights' own, else
            None.
        class_names: sequence of str or None. A name per class, recorded
            in the model (`ResidualModel.class_names`). Defaults to the
            registered weights' names where their classifier is kept.
        front_end: `AudioFrontEnd`, dict, `"waveform"`, `"log_mel"` or
            None. An audio model: it takes PCM samples, `input_shape` is
            `(samples,)` (see `ResidualModel`). Defaults to the weights'
            own (audio weights), else `None`.
        **overrides: `depths`, `widths`, `width_multiplier`, `block`, or a
            `ModelSpec` field such as `drop_path_rate` (see
            `apply_overrides`).

    Example:

    ```python
    deeper = keras_residual.build("ResNet50", depths=(3, 4, 23, 3))
    slim = keras_residual.build("ResNet50", width_multiplier=0.5)
    ```
    """
    spec, model_name, default_classes = _registered_spec(model)
    request = resolve_weights(model_name, weights, include_top, classifier_activation)
    spec = apply_overrides(checkpoint_spec(spec, request), **overrides)
    preprocessing = _preprocessing(preprocessing, request)
    _check_weights_rank(weights, request, input_shape, input_tensor)
    if classes is None:
        classes = _default_classes(request, default_classes)
    if front_end is None and request is not None:
        front_end = request.front_end  # audio weights take their samples
    if input_shape is None and input_tensor is None and front_end is None:
        input_shape = _weights_input_shape(request, spec, include_top)
    network = ResidualModel(
        spec,
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        input_tensor=input_tensor,
        name=name or (model_name.lower() if model_name else "residual_model"),
        preprocessing=preprocessing,
        class_names=(
            _class_names(request, classes, include_top)
            if class_names is None
            else class_names
        ),
        front_end=front_end,
    )
    load_requested_weights(network, request)
    return network


def _check_weights_rank(weights, request, input_shape, input_tensor):
    """Refuses image weights (registered or a torch checkpoint) for a 1-D
    input: their kernels are 2-D."""
    if not request or not (request.entry or request.checkpoint):
        return
    shape = tuple(input_tensor.shape[1:]) if input_tensor is not None else input_shape
    if shape is not None and len(shape) == 2:
        raise ValueError(
            f"`weights={weights!r}` are image weights (2-D kernels), but "
            f"`input_shape` {tuple(shape)} is 1-D (length, channels); allowed: "
            "an image input_shape (height, width, channels) with these "
            "weights, or weights=None for a 1-D model."
        )


def _default_classes(request, default_classes):
    """The weights' classes, else the model's default."""
    return (request and request.classes) or default_classes


def _weights_input_shape(request, spec, include_top):
    """The input the weights were trained on where it is not the spec's
    default RGB input (Fashion-MNIST's are 28x28x1), else None."""
    entry = request.entry if request else None
    source = request.source_model if request else None
    hub_size = request.input_size if request and request.kind == "hub" else None
    if hub_size and hub_size[0] != spec.default_size:
        return (hub_size[0], hub_size[1], 3) if include_top else None
    if entry and (
        entry.input_channels != 3 or entry.input_size not in (None, spec.default_size)
    ):
        size = (entry.input_size or spec.default_size) if include_top else None
        return (size, size, entry.input_channels)
    if source is not None and len(source.image_shape) == 3:
        height, width, channels = source.image_shape
        return (height, width, channels) if include_top else (None, None, channels)
    return None


def _class_names(request, classes, include_top):
    """The weights' class names (registered, or a trained model's), where
    their classifier is kept."""
    names = request.class_names if request else None
    if not include_top or not names or len(names) != classes:
        return None
    return list(names)


def _preprocessing(preprocessing, request):
    """The preprocessing the model records: the one given, else the
    weights' own; a disagreement with registered weights is refused."""
    entry = request.entry if request else None
    trained = entry.preprocessing if entry else None
    if preprocessing is None:
        return request.preprocessing if request else None
    preprocessing = as_preprocessing(preprocessing)
    if trained is not None and preprocessing != trained:
        raise ValueError(
            f"`preprocessing={preprocessing}` disagrees with the weights "
            f"{entry.tag!r} of {entry.model}, which were trained with "
            f"{trained} inputs. Leave `preprocessing` unset to use theirs."
        )
    return preprocessing


_ENTRY_DOC = """Builds {name}: {description}

Mirrors `keras.applications` (same arguments; `weights` defaults to `None`),
and accepts `build()` overrides (`depths`, `widths`, `width_multiplier`,
`block`, `drop_path_rate`, ...).

Args:
    include_top: bool. Add the `avg_pool` + `predictions` head.
        Defaults to `True`.
    weights: None, str or path. A registered name (see
        `keras_residual.list_weights("{name}")`), a weights file, a state
        dict, a `.keras` file or a run directory (as `build()`). Defaults to
        `None`.
    input_tensor: tensor or None. Optional input tensor.
    input_shape: tuple or None. `(height, width, channels)`, at least
        {min_size}x{min_size}. Defaults to `({size}, {size}, 3)` with the top
        and `(None, None, 3)` without.
    pooling: None, "avg" or "max". Pooling when `include_top=False`.
    classes: int. Number of classes. Defaults to `{classes}`.
    classifier_activation: str or None. Defaults to `"softmax"`; `None`
        returns logits.
    name: str. Model name. Defaults to `"{lower}"`.
    preprocessing: str or None. The input preprocessing the model records.
        Defaults to the weights' own (None without weights).
    **overrides: spec overrides passed to `keras_residual.build`.

Returns:
    A `keras_residual.ResidualModel` (a Functional `keras.Model`).
"""


def _entry_point(model_name, default_classes):
    # The signature shows the default name, as keras.applications' does.
    @application_function(classes=default_classes, name=model_name.lower())
    def entry_point(**arguments):
        return build(model_name, **arguments)

    entry = MODELS.get(model_name)
    entry_point.__name__ = entry_point.__qualname__ = model_name
    entry_point.__doc__ = _ENTRY_DOC.format(
        name=model_name,
        description=entry.description,
        classes=default_classes,
        lower=model_name.lower(),
        size=entry.spec.default_size,
        min_size=entry.spec.min_size,
    )
    return entry_point
