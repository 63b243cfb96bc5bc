"""keras_residual presets: a trained model as a folder (or a Hugging Face
Hub repository) of `config.json` (the model's Keras config: spec, input
shape, classes, preprocessing, class names), `model.safetensors` (one
tensor per variable, named by its path) and a `README.md` model card.
`hub.preset_writer.save_to_preset` writes one; `weights=` reads it back."""

import os

from keras_residual.core.builder import ResidualModel
from keras_residual.hub.ids import fetch_hub_weights
from keras_residual.hub.ids import is_hub_id
from keras_residual.hub.ids import read_hub_config
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.utils.validation import first_line
from keras_residual.weights.state_dict import read_safetensors
from keras_residual.weights.state_dict import safetensors_header
from keras_residual.weights.value_checks import checked_value

PRESET_LIBRARY = "keras_residual"
PRESET_FORMAT = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_CONFIG_BYTES = 1 << 20


def is_preset_config(config):
    """Whether a `config.json` is a keras_residual preset's (not timm's).

    Args:
        config: object. The parsed `config.json`.
    """
    return isinstance(config, dict) and config.get("library_name") == PRESET_LIBRARY


def preset_directory_config(path):
    """The parsed `config.json` of a preset folder, or None where `path`
    is not a folder holding a keras_residual preset's `config.json`.

    Args:
        path: str. A path.
    """
    config_path = os.path.join(path, CONFIG_FILE)
    if not (os.path.isdir(path) and os.path.isfile(config_path)):
        return None
    config = read_json_file(config_path, f"{path!r}'s {CONFIG_FILE}", MAX_CONFIG_BYTES)
    return config if is_preset_config(config) else None


def load_preset(source):
    """The model a preset holds, with its weights: what `save_to_preset`
    wrote, or what `push_to_hub` uploaded.

    Args:
        source: str. A preset folder, or a Hub id (`"hf://ORG/NAME"`,
            `"hf-hub:ORG/NAME"`, optionally `@REVISION`).

    Raises:
        ValueError: not a preset, a format this version does not read, or
            weights that do not fit the model (nothing is loaded).
        OSError: a Hub download failed.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "`source` must be a preset folder or a Hub id ('hf://ORG/NAME'); "
            f"received {type(source).__name__}."
        )
    source = os.fspath(source)
    if is_hub_id(source):
        config = read_hub_config(source)
        preset_model_config(config, source)  # before the weights are downloaded
        return model_from_preset(config, fetch_hub_weights(source), source)
    if not os.path.isdir(source):
        raise ValueError(
            f"`source` {source!r} is neither a preset folder nor a Hub id "
            "('hf://ORG/NAME')."
        )
    config_path = os.path.join(source, CONFIG_FILE)
    config = read_json_file(
        config_path, f"{source!r}'s {CONFIG_FILE}", MAX_CONFIG_BYTES
    )
    return preset_from_folder(source, config)


def preset_from_folder(folder, config):
    """The model of a preset folder whose `config.json` is read already.

    Args:
        folder: str. The folder.
        config: dict. Its parsed `config.json`.
    """
    return model_from_preset(config, os.path.join(folder, WEIGHTS_FILE), folder)


def model_from_preset(config, weights_path, source):
    """Builds the model of a preset's `config.json` and loads its weights.

    Args:
        config: dict. The parsed `config.json`.
        weights_path: str. Its `model.safetensors`.
        source: str. The folder or Hub id, for messages.
    """
    model_config = preset_model_config(config, source)
    try:
        model = ResidualModel.from_config(model_config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(
            f"The preset {source!r} describes a model that cannot be built "
            f"({type(error).__name__}: {first_line(error)})."
        ) from None
    load_variables(model, weights_path, source)
    return model


def load_variables(model, path, source):
    """Assigns every variable of `model` from a safetensors file named by
    variable path, all or nothing: names and shapes are checked first (each
    tensor checked by `checked_value` and cast to its variable's dtype).

    Args:
        model: `keras.Model`. The model.
        path: str. The `.safetensors` file.
        source: str. What the user named, for messages.
    """
    header = safetensors_header(path)
    variables = {v.path: v for v in model.weights}
    missing = sorted(set(variables) - set(header))
    extra = sorted(set(header) - set(variables))
    if missing or extra:
        raise ValueError(
            f"The weights of {source!r} do not fit its model {model.name}: "
            f"missing {missing[:3]}, unexpected {extra[:3]}. Nothing was loaded."
        )
    for name, variable in variables.items():
        if list(header[name]["shape"]) != list(variable.shape):
            raise ValueError(
                f"The weights of {source!r} do not fit its model {model.name}: "
                f"{name!r} has shape {header[name]['shape']}, the model "
                f"{list(variable.shape)}. Nothing was loaded."
            )
    tensors = read_safetensors(path)
    values = {  # all checked and cast before the first is assigned
        name: checked_value(variable, tensors[name], f"{source!r}: tensor {name!r}")
        for name, variable in variables.items()
    }
    for name, variable in variables.items():
        variable.assign(values[name])


def model_tensors(model):
    """`{variable path: numpy array}` of every variable of `model`.

    Args:
        model: `keras.Model`. The model.

    Raises:
        ValueError: two variables share a path (unnamed layers).
    """
    tensors = {}
    for variable in model.weights:
        if variable.path in tensors:
            raise ValueError(
                f"Two variables of {model.name} share the path {variable.path!r}; "
                "a preset names each variable by its path."
            )
        tensors[variable.path] = variable.numpy()
    return tensors


def preset_model_config(config, source):
    """The `ResidualModel` config inside a preset's `config.json`, checked.

    Args:
        config: dict. The parsed `config.json`.
        source: str. The folder or Hub id, for messages.
    """
    if not is_preset_config(config):
        raise ValueError(
            f"{source!r} is not a keras_residual preset: its {CONFIG_FILE} has "
            f"no 'library_name': {PRESET_LIBRARY!r}."
        )
    version = config.get("format_version")
    if version != PRESET_FORMAT:
        raise ValueError(
            f"The preset {source!r} has format_version {version!r}; this "
            f"version of keras_residual reads {PRESET_FORMAT}."
        )
    model = config.get("model")
    if (
        not isinstance(model, dict)
        or model.get("class_name") != "ResidualModel"
        or not isinstance(model.get("config"), dict)
    ):
        raise ValueError(
            f"The preset {source!r} holds no ResidualModel config "
            "(config.json's 'model')."
        )
    return model["config"]
