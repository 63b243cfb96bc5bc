"""`create_model()`: timm's one-liner, by a registered name, a timm id
(`"resnet50.a1_in1k"`, a registered weights tag) or a Hub id
(`"hf-hub:timm/resnet50.a1_in1k"`)."""

from keras_residual.hub.ids import hub_model
from keras_residual.hub.ids import is_hub_id
from keras_residual.hub.ids import read_hub_config
from keras_residual.hub.preset_format import is_preset_config
from keras_residual.hub.preset_format import preset_model_config
from keras_residual.models.weights_request import resolve_weights
from keras_residual.models.zoo import MODELS
from keras_residual.models.zoo import build
from keras_residual.utils.validation import unknown_name_message
from keras_residual.weights.registry import weight_tags


def create_model(model_name, pretrained=False, num_classes=None, **kwargs):
    """Builds a model as `timm.create_model` does.

    Args:
        model_name: str. A registered name (`"ResNet50"`), a timm id that
            is a registered weights tag (`"resnet50.a1_in1k"`), or a Hub id
            (`"hf-hub:ORG/REPO"`, `"hf://ORG/REPO"`) whose `config.json`
            names a supported architecture or is a keras_residual preset
            (from `push_to_hub`).
        pretrained: bool. Load the weights: the timm id's or the Hub id's,
            or a registered name's first registered weights. Defaults to
            `False`.
        num_classes: int or None. The classifier size (timm's name for
            `classes`); another number than the weights' gets a new
            classifier. Defaults to the weights', else the model's.
        **kwargs: other `build()` arguments (`input_shape`,
            `include_top`, overrides, ...).
    """
    if not isinstance(pretrained, bool):
        raise TypeError(f"`pretrained` must be True or False; received {pretrained!r}.")
    if num_classes is not None:
        if "classes" in kwargs:
            raise TypeError(
                "create_model() takes `num_classes` or `classes`, not both."
            )
        kwargs["classes"] = num_classes
    if is_hub_id(model_name):
        name, weights, defaults = _hub_model(model_name, pretrained)
        return build(name, weights=weights, **{**defaults, **kwargs})
    name, tag = _registered_name(model_name)
    if pretrained and tag is None:
        raise ValueError(
            f"`pretrained=True`: no weights are registered for {name}; "
            "keras_residual.list_models(pretrained=True) lists those that have some."
        )
    return build(name, weights=tag if pretrained else None, **kwargs)


def _hub_model(hub_id, pretrained):
    """`(model, weights, build defaults)` of a Hub id: with `pretrained`,
    the id resolved once (its config.json, then its weights) and handed to
    `build()` as it is, so nothing is fetched twice. A keras_residual
    preset gives its own spec, name, input shape and classes."""
    if pretrained:
        request = resolve_weights(None, hub_id)
        if request.kind == "preset":
            source = request.source_model
            return source.spec, request, {"name": source.name}
        return hub_model(request.hub_config, hub_id), request, {}
    config = read_hub_config(hub_id)
    if not is_preset_config(config):
        return hub_model(config, hub_id), None, {}
    model = preset_model_config(config, hub_id)
    defaults = {
        "name": model["name"],
        "input_shape": tuple(model["input_shape"]),
        "classes": model["classes"],
        "include_top": model["include_top"],
    }
    return model["spec"], None, defaults


def _registered_name(model_name):
    """`(registered model, weights tag or None)` of a name or timm id."""
    registered = weight_tags()
    if isinstance(model_name, str) and model_name in MODELS:
        return model_name, (registered.get(model_name) or [None])[0]
    for model, tags in registered.items():
        if model_name in tags:
            return model, model_name
    known = MODELS.names()
    # timm's ids ("arch.tag"), not names shared by many models ("imagenet")
    known += sorted({tag for tags in registered.values() for tag in tags if "." in tag})
    raise ValueError(
        unknown_name_message("model_name", model_name, known, kind="model or timm id")
        + " Or pass a Hub id, 'hf-hub:ORG/REPO'."
    )
