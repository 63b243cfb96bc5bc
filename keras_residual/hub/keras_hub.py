"""keras-hub presets in and out: `from_keras_hub(preset)` builds the
keras_residual model of a keras-hub backbone preset and copies its weights;
`to_keras_hub(model, directory)` writes a keras-hub preset of a
keras_residual model that `keras_hub.models.Backbone.from_preset` loads.

Both need `keras-hub` (it reads and writes its own format). Each backbone
family both packages build is a `KerasHubFamily` registered by its own
module (`keras_hub_resnet`, `keras_hub_densenet`): how a backbone config
becomes a spec and back, and how its layer names map to ours."""

import dataclasses
import os
import warnings
from collections.abc import Callable

import keras
import numpy as np

from keras_residual.core.builder import ResidualModel
from keras_residual.core.spec import ModelSpec
from keras_residual.hub.preprocessing_formats import from_image_converter
from keras_residual.hub.preprocessing_formats import to_image_converter
from keras_residual.utils.atomic import atomic_directory
from keras_residual.utils.files import check_regular_files
from keras_residual.utils.validation import first_line
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.value_checks import checked_value

IMAGE_CONVERTER_FILE = "image_converter.json"
# A preset's config.json and metadata.json: a few KB.
MAX_PRESET_JSON_BYTES = 16 << 20

# ModelSpec fields a keras-hub backbone does not record: they leave the
# outputs of a trained model unchanged.
TRAINING_FIELDS = (
    "default_size",
    "min_size",
    "kernel_initializer",
    "zero_init_residual",
    "drop_path_rate",
    "bn_momentum",
)


@dataclasses.dataclass(frozen=True)
class KerasHubFamily:
    """A keras-hub backbone class keras_residual builds.

    Args:
        backbone: str. The keras-hub class, e.g. `"ResNetBackbone"`.
        spec_from_config: callable. `config -> ModelSpec` of a backbone's
            `get_config()`; raises `ValueError` for a variant not built.
        config_from_spec: callable. `ModelSpec -> dict` of the backbone's
            arguments (without `image_shape`), or None where the spec is
            not of this family.
        variable_name: callable. `config -> (keras-hub variable path ->
            ours)` (see `rename_layers` for a mapping of layer names).
        description: str. The variants, for messages.
    """

    backbone: str
    spec_from_config: Callable
    config_from_spec: Callable
    variable_name: Callable
    description: str


FAMILIES = {}


def register_keras_hub_family(family):
    """Registers a `KerasHubFamily` by its backbone class name.

    Args:
        family: `KerasHubFamily`.
    """
    FAMILIES[family.backbone] = family
    return family


def from_keras_hub(preset, name=None):
    """The keras_residual model of a keras-hub backbone preset, with its
    weights; its outputs equal the backbone's.

    Args:
        preset: str. A keras-hub preset: a folder written by
            `save_to_preset`, or a name or handle keras-hub resolves.
        name: str or None. The model's name. Defaults to the backbone's.

    Returns:
        `ResidualModel` without a classifier (`include_top=False`), as the
        backbone has none, recording the preprocessing of the preset's
        image converter (None where it has none).

    Raises:
        ValueError: keras-hub is missing, or the backbone is of an
            architecture keras_residual does not build (named).
    """
    keras_hub = _keras_hub()
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    local = isinstance(preset, str) and os.path.isdir(preset)
    if local:
        # keras-hub would read a FIFO or /dev/zero until it hangs or fills
        # memory.
        check_regular_files(
            preset,
            "The keras-hub preset file",
            lambda name: MAX_PRESET_JSON_BYTES if name.endswith(".json") else None,
        )
    backbone = _backbone_from_preset(keras_hub, preset, local)
    kind = type(backbone).__name__
    if kind not in FAMILIES:
        raise ValueError(
            f"`preset` {preset!r} holds a keras-hub {kind}; from_keras_hub "
            f"builds {_families()}."
        )
    family, config = FAMILIES[kind], backbone.get_config()
    model = ResidualModel(
        family.spec_from_config(config),
        include_top=False,
        input_shape=tuple(config["image_shape"]),
        name=name or backbone.name,
    )
    _copy(backbone, model, family.variable_name(config), f"`preset` {preset!r}")
    model.preprocessing = _preset_preprocessing(keras_hub, preset, local)
    return model


def _preset_preprocessing(keras_hub, preset, local):
    """The `Preprocessing` of the preset's image converter (its scale,
    offset and interpolation), or None where it has none."""
    if local and not os.path.isfile(os.path.join(preset, IMAGE_CONVERTER_FILE)):
        return None
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
    except (OSError, ValueError, TypeError, KeyError) as error:
        if not local:
            return None  # a remote preset without a converter
        raise ValueError(
            f"`preset` {preset!r} has an {IMAGE_CONVERTER_FILE} keras-hub "
            f"cannot read ({type(error).__name__}: {first_line(error)})."
        ) from None
    return from_image_converter(converter)


def _backbone_from_preset(keras_hub, preset, local):
    """keras-hub's backbone of `preset`; a `local` folder whose files
    keras-hub cannot read (a truncated `model.weights.h5`, a `config.json`
    of another shape) is a `ValueError` naming it, whatever keras-hub or
    h5py raised."""
    if not local:
        return keras_hub.models.Backbone.from_preset(preset)  # download errors
    try:
        return keras_hub.models.Backbone.from_preset(preset)
    except Exception as error:  # keras-hub, Keras and h5py errors alike
        raise ValueError(
            f"`preset` {preset!r} is not a keras-hub preset keras-hub can read "
            f"({type(error).__name__}: {first_line(error)})."
        ) from None


def to_keras_hub(model, directory, overwrite=False):
    """Writes a keras-hub preset of `model`'s backbone (everything before
    its pooling and classifier), atomically, with an `ImageConverter` of
    its preprocessing where keras-hub can spell it.

    Args:
        model: `ResidualModel`. A model of an architecture keras-hub has.
        directory: str. The preset folder to write.
        overwrite: bool. Replace an existing folder. Defaults to `False`.

    Returns:
        str. The folder.

    Raises:
        ValueError: keras-hub is missing, or keras-hub has no backbone of
            `model`'s architecture (the reason is named).
    """
    if not isinstance(model, ResidualModel):
        raise TypeError(
            "`model` must be a keras_residual ResidualModel; received "
            f"{type(model).__name__}."
        )
    family, config = _family_of(model)
    backbone_class = getattr(_keras_hub().models, family.backbone)
    backbone = backbone_class(
        **config, image_shape=tuple(model.image_shape), name=model.name
    )
    source = f"`model` {model.name!r}"
    _copy(backbone, model, family.variable_name(config), source, out=True)
    converter = _image_converter(model)
    with atomic_directory(os.fspath(directory), overwrite=overwrite) as staging:
        backbone.save_to_preset(staging)
        if converter is not None:
            _keras_hub().layers.ImageConverter(**converter).save_to_preset(staging)
    return os.path.abspath(directory)


def _image_converter(model):
    """The keras-hub image converter config of `model`'s preprocessing, or
    None where it records none or one keras-hub cannot spell (Caffe's BGR
    order, a crop fraction: warned)."""
    preprocessing = model.preprocessing
    if preprocessing is None:
        return None
    try:
        return to_image_converter(preprocessing, model.image_shape[:2])
    except ValueError as error:
        warnings.warn(
            f"The keras-hub preset of {model.name!r} holds no image converter: "
            f"{first_line(error)}",
            stacklevel=3,
        )
        return None


def inference_only(spec):
    """`spec` with the fields that do not change a forward pass
    (`TRAINING_FIELDS`) at their defaults, so that two specs of the same
    network compare equal.

    Args:
        spec: `ModelSpec`.
    """
    defaults = ModelSpec(stem=spec.stem, stages=spec.stages)
    return spec.replace(
        **{field: getattr(defaults, field) for field in TRAINING_FIELDS}
    )


def _family_of(model):
    """`(family, backbone arguments)` of the family that builds `model`'s
    exact network."""
    target = inference_only(model.spec)
    for family in FAMILIES.values():
        config = family.config_from_spec(model.spec)
        if config is not None:
            try:
                full = {**config, "image_shape": list(model.image_shape)}
                same = inference_only(family.spec_from_config(full)) == target
            except ValueError:
                same = False
            if same:
                return family, config
    spec = model.spec
    raise ValueError(
        f"keras-hub has no backbone of {model.name}'s architecture (blocks "
        f"{sorted({s.block for s in spec.stages})}, stem {spec.stem.kind!r} "
        f"{dict(spec.stem.args)}, BatchNorm epsilon {spec.bn_epsilon}). "
        f"keras-hub builds {_families()}."
    )


def _families():
    return "; ".join(f"{f.backbone} ({f.description})" for f in FAMILIES.values())


def rename_layers(rename):
    """A variable-path mapping from a layer-name mapping: keras-hub's
    `layer/variable` becomes `rename(layer)/variable`.

    Args:
        rename: callable. keras-hub layer name -> ours.
    """

    def variable_name(path):
        layer, _, variable = path.partition("/")
        return f"{rename(layer)}/{variable}"

    return variable_name


def _copy(backbone, model, variable_name, source, out=False):
    """Copies weights between a keras-hub backbone and `model` (into the
    backbone when `out`), variable by variable, all checked before any is
    set; our classifier has no counterpart and is left out. Shapes may
    differ only by leading 1s (keras-hub's position embeddings are 2-D)."""
    ours = {
        v.path: v
        for v in model.weights
        if not v.path.startswith(CLASSIFIER_LAYER + "/")
    }
    pairs = []
    for hub_variable in backbone.weights:
        name = variable_name(hub_variable.path)
        if name not in ours:
            raise ValueError(
                f"{source} does not fit: keras-hub's {hub_variable.path!r} has "
                f"no counterpart {name!r}. Nothing was copied."
            )
        mine = ours.pop(name)
        if _squeezed(hub_variable.shape) != _squeezed(mine.shape):
            raise ValueError(
                f"{source} does not fit: {hub_variable.path!r} has shape "
                f"{tuple(hub_variable.shape)}, {name!r} {tuple(mine.shape)}. "
                "Nothing was copied."
            )
        pairs.append((mine, hub_variable) if out else (hub_variable, mine))
    if ours:
        raise ValueError(
            f"{source} does not fit: {sorted(ours)[:3]} have no keras-hub "
            "counterpart. Nothing was copied."
        )
    values = [  # all checked before the first is set
        checked_value(
            target,
            np.reshape(keras.ops.convert_to_numpy(origin), tuple(target.shape)),
            f"{source}: {origin.path!r}",
        )
        for origin, target in pairs
    ]
    for (_, target), value in zip(pairs, values):
        target.assign(value)


def _squeezed(shape):
    shape = tuple(shape)
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def _keras_hub():
    try:
        import keras_hub  # lazy: an optional extra
    except ImportError:
        raise ValueError(
            "keras-hub presets need keras-hub: pip install keras-hub."
        ) from None
    return keras_hub
