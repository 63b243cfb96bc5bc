"""Checkpoints by Hub id, as timm spells them: `weights="hf-hub:ORG/REPO"`
(or `"hf://ORG/REPO"`, with an optional `@REVISION`). The repository's
`config.json` (timm's `pretrained_cfg`) names the architecture, the input
size, the normalisation and the classes; the architecture is mapped to a
registered model before the weights are downloaded, so an unsupported one
is refused at once."""

from keras_residual.hub.files import fetch_hub_file
from keras_residual.hub.preprocessing_formats import from_timm
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.utils.validation import first_line
from keras_residual.utils.validation import unknown_name_message

HUB_PREFIXES = ("hf-hub:", "hf://")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_CONFIG_BYTES = 1 << 20

# timm's architecture names -> the registered models that hold their
# checkpoints (the converters read the state dict's own layout).
HUB_ARCHITECTURES = {
    **{f"resnet{d}": f"ResNet{d}" for d in (18, 34, 50, 101, 152)},
    "resnet50d": "ResNet50D",
    "seresnet50": "SEResNet50",
    "resnext50_32x4d": "ResNeXt50_32x4d",
    "resnext101_32x8d": "ResNeXt101_32x8d",
    **{f"densenet{d}": f"DenseNet{d}" for d in (121, 169, 201)},
    "vit_tiny_patch16_224": "ViTTiny16",
    "vit_small_patch16_224": "ViTSmall16",
    "vit_base_patch16_224": "ViTBase16",
}


def register_hub_architecture(architecture, model):
    """Maps a `config.json` architecture name to a registered model, so
    that `weights="hf-hub:..."` checkpoints of it load.

    Args:
        architecture: str. The name in `config.json`, e.g. `"resnet50"`.
        model: str. A registered model name, e.g. `"ResNet50"`.
    """
    HUB_ARCHITECTURES[architecture] = model


def is_hub_id(weights):
    """Whether `weights` is a Hub id (`"hf-hub:..."` or `"hf://..."`).

    Args:
        weights: object. A `weights=` argument.
    """
    return isinstance(weights, str) and weights.startswith(HUB_PREFIXES)


def parse_hub_id(weights):
    """`(repo_id, revision)` of a Hub id.

    Args:
        weights: str. `"hf-hub:ORG/REPO"` or `"hf://ORG/REPO"`, optionally
            ending in `@REVISION`.
    """
    rest = weights.split(":", 1)[1].lstrip("/")
    repo, _, revision = rest.partition("@")
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise ValueError(
            f"`weights` {weights!r} is not a Hub id; expected 'hf-hub:ORG/REPO' "
            "or 'hf://ORG/REPO', optionally with '@REVISION'."
        )
    return repo, revision or None


def read_hub_config(weights):
    """The `config.json` of a Hub id, read and checked.

    Args:
        weights: str. A Hub id.

    Returns:
        dict. With `"architecture"` at least.
    """
    repo, revision = parse_hub_id(weights)
    path = fetch_hub_file(repo, CONFIG_FILE, revision=revision)
    config = read_json_file(path, f"The {CONFIG_FILE} of {repo}", MAX_CONFIG_BYTES)
    if not isinstance(config, dict) or not isinstance(config.get("architecture"), str):
        raise ValueError(
            f"The {CONFIG_FILE} of {repo} names no architecture; it is not a "
            "timm model repository."
        )
    return config


def hub_model(config, weights):
    """The registered model that holds `config`'s architecture.

    Args:
        config: dict. From `read_hub_config`.
        weights: str. The Hub id, for messages.
    """
    architecture = config["architecture"]
    if architecture not in HUB_ARCHITECTURES:
        raise ValueError(
            unknown_name_message(
                "weights", architecture, HUB_ARCHITECTURES, kind="Hub architecture"
            )
            + f" ({weights} is a {architecture!r}; nothing was downloaded but its "
            "config.json. Register a model for it with "
            "keras_residual.hub.ids.register_hub_architecture.)"
        )
    return HUB_ARCHITECTURES[architecture]


def fetch_hub_weights(weights):
    """A local path of the Hub id's `model.safetensors`.

    Args:
        weights: str. A Hub id.
    """
    repo, revision = parse_hub_id(weights)
    return fetch_hub_file(repo, WEIGHTS_FILE, revision=revision)


def hub_preprocessing(config):
    """The `Preprocessing` of `config`'s `pretrained_cfg` (mean, std,
    interpolation, crop_pct; `"torch"` where they are ImageNet's), or None
    where it records no mean and std.

    Args:
        config: dict. From `read_hub_config`.
    """
    settings = config.get("pretrained_cfg") or {}
    if not isinstance(settings, dict) or "mean" not in settings:
        return None
    try:
        return from_timm(settings)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The {CONFIG_FILE}'s pretrained_cfg holds no normalisation "
            f"keras_residual can apply: {first_line(error)}"
        ) from None


def hub_input_size(config):
    """The image size of `config`'s `input_size` (`[3, H, W]`), or None.

    Args:
        config: dict. From `read_hub_config`.
    """
    size = (config.get("pretrained_cfg") or {}).get("input_size")
    if isinstance(size, list) and len(size) == 3 and size[1] == size[2]:
        return size[1] if isinstance(size[1], int) else None
    return None


def hub_class_names(config):
    """`config`'s `label_names`, where it lists them as strings.

    Args:
        config: dict. From `read_hub_config`.
    """
    names = config.get("label_names")
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return tuple(names)
    return None
