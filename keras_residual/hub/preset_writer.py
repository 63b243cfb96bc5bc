"""Publishing a trained model: `save_to_preset()` writes a Hub-ready
folder (`config.json`, `model.safetensors`, a `README.md` model card with
Hugging Face front matter) that `weights=`, `load_preset()` and
`push_to_hub()` take."""

import json
import os

import keras

from keras_residual.core.builder import ResidualModel
from keras_residual.core.heads import is_classifier
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocessing_json
from keras_residual.hub.hub_options import PresetOptions
from keras_residual.hub.preprocessing_formats import to_timm
from keras_residual.hub.preset_format import CONFIG_FILE
from keras_residual.hub.preset_format import PRESET_FORMAT
from keras_residual.hub.preset_format import PRESET_LIBRARY
from keras_residual.hub.preset_format import WEIGHTS_FILE
from keras_residual.hub.preset_format import model_tensors
from keras_residual.utils.atomic import atomic_directory
from keras_residual.utils.atomic import write_json
from keras_residual.utils.atomic import write_text
from keras_residual.utils.options import options_argument
from keras_residual.version import __version__
from keras_residual.weights.keras_source import load_trained_model
from keras_residual.weights.state_dict import write_safetensors

CARD_FILE = "README.md"
# Datasets of `train()` that have a Hugging Face Hub id (a folder has none).
HUB_DATASETS = {"fashion_mnist": "zalando-datasets/fashion_mnist"}
METRIC_KEYS = ("test_accuracy", "test_loss", "best_val_accuracy", "epochs", "recipe")


def save_to_preset(model, directory, options=None, **fields):
    """Writes `model` as a preset folder, ready to upload to the Hub.

    The folder holds `config.json` (the model's config: spec, input shape,
    classes, preprocessing, class names), `model.safetensors` (every
    variable by its path) and `README.md` (a model card with Hugging Face
    front matter and the run's metrics). It is written atomically.

    Args:
        model: `ResidualModel`, or str. A model, a run directory of
            `train()` (its metrics go into the card) or a `.keras` file.
        directory: str. The folder to write.
        options: `PresetOptions` or None. The card's licence and the
            repository its usage line names, and whether to replace an
            existing folder. Defaults to `PresetOptions()`.
        **fields: any field of `PresetOptions` by name, as in
            `save_to_preset(run, "preset", license="apache-2.0")`; it
            overrides the field of `options`.

    Returns:
        str. The folder.
    """
    options = options_argument("save_to_preset", PresetOptions, options, fields)
    license = options.license
    model, metrics = _trained_model(model)
    if not isinstance(license, str) or not license.strip():
        raise ValueError(
            "`license` must be a licence id such as 'apache-2.0'; "
            f"received {license!r}."
        )
    architecture = (metrics or {}).get("model") or model.name
    config = preset_config(model, architecture, metrics)
    with atomic_directory(os.fspath(directory), overwrite=options.overwrite) as staging:
        write_safetensors(
            os.path.join(staging, WEIGHTS_FILE),
            model_tensors(model),
            metadata={"format": "keras_residual", "architecture": architecture},
        )
        write_json(os.path.join(staging, CONFIG_FILE), config)
        card = model_card_markdown(
            config, license, options.repo_id, local=os.fspath(directory)
        )
        write_text(os.path.join(staging, CARD_FILE), card)
    return os.path.abspath(directory)


def preset_config(model, architecture, metrics=None):
    """The `config.json` of a preset of `model`.

    Args:
        model: `ResidualModel`. The model.
        architecture: str. Its registered name, or its model name.
        metrics: dict or None. A run's `metrics.json`. Defaults to `None`.
    """
    classes = model.classes if is_classifier(model) else None
    mode = model.preprocessing
    pretrained_cfg = {
        "input_size": [model.image_shape[-1], *model.image_shape[:-1]],
        "num_classes": classes,
        "preprocessing": preprocessing_json(mode),
    }
    if mode is not None and mode.channel_order == "rgb":  # timm has no BGR
        pretrained_cfg.update(to_timm(mode))
    return {
        "library_name": PRESET_LIBRARY,
        "format_version": PRESET_FORMAT,
        "architecture": architecture,
        "model": {
            "module": "keras_residual",
            "class_name": "ResidualModel",
            "registered_name": "keras_residual>ResidualModel",
            "config": model.get_config(),
        },
        "num_classes": classes,
        "label_names": list(model.class_names) if model.class_names else None,
        "pretrained_cfg": pretrained_cfg,
        "parameters": int(model.count_params()),
        "metrics": {k: (metrics or {}).get(k) for k in METRIC_KEYS},
        "dataset": _dataset_name((metrics or {}).get("dataset")),
        "versions": {"keras_residual": __version__, "keras": keras.__version__},
    }


def model_card_markdown(config, license, repo_id, local=None):
    """The `README.md` of a preset: YAML front matter the Hub reads
    (library, licence, tags, datasets, metrics), then a human-readable card.

    Args:
        config: dict. From `preset_config`.
        license: str. The licence id.
        repo_id: str or None. The repository the usage example loads;
            None: it loads the local folder (`push_to_hub` names the
            repository when it uploads).
        local: str or None. The preset folder, as the user named it.
            Defaults to `None`.
    """
    front = _front_matter(config, license)
    architecture = config["architecture"]
    accuracy = config["metrics"].get("test_accuracy")
    model = config["model"]["config"]
    rows = [
        ("Architecture", architecture),
        ("Parameters", f"{config['parameters']:,}"),
        ("Input shape", tuple(model["input_shape"])),
        ("Preprocessing", as_preprocessing(model["preprocessing"]) or "none recorded"),
        ("Classes", config["num_classes"]),
        ("Trained on", config["dataset"] or "unknown"),
        ("Test accuracy", "n/a" if accuracy is None else f"{accuracy:.4f}"),
    ]
    body = [
        "",
        f"# {architecture}",
        "",
        "A [keras_residual](https://pypi.org/project/keras-residual/) model.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "## Use",
        "",
        "```python",
        "import keras_residual as kr",
        "",
        usage_line(repo_id, local),
        "```",
        "",
        "Class names: "
        + (", ".join(config["label_names"]) if config["label_names"] else "none"),
        "",
    ]
    return "\n".join(front + body)


def _front_matter(config, license):
    """The card's YAML front matter, as lines: what the Hub reads (library,
    licence, tags, datasets, the accuracy in a model index)."""
    architecture = config["architecture"]
    accuracy = config["metrics"].get("test_accuracy")
    dataset = HUB_DATASETS.get(config["dataset"])
    front = [
        "---",
        "library_name: keras-residual",
        f"license: {json.dumps(license)}",
        "pipeline_tag: image-classification",
        "tags:",
        *(f"- {json.dumps(t)}" for t in ("keras", "keras-residual", architecture)),
    ]
    if dataset:
        front += ["datasets:", f"- {json.dumps(dataset)}"]
    if accuracy is not None:
        front += [
            "metrics:",
            "- accuracy",
            "model-index:",
            f"- name: {json.dumps(architecture)}",
            "  results:",
            "  - task:",
            "      type: image-classification",
            "    dataset:",
            f"      name: {json.dumps(config['dataset'] or 'unknown')}",
            f"      type: {json.dumps(dataset or config['dataset'] or 'unknown')}",
            "    metrics:",
            "    - type: accuracy",
            f"      value: {float(accuracy):.6g}",
        ]
    return front + ["---"]


def usage_line(repo_id, local=None):
    """The card's line that loads the preset: from the Hub repository
    `repo_id`, else from the folder `local`.

    Args:
        repo_id: str or None. `"ORG/NAME"`.
        local: str or None. The preset folder. Defaults to `None`.
    """
    source = f"hf://{repo_id}" if repo_id else (local or "PRESET_FOLDER")
    return f"model = kr.load_preset({json.dumps(source)})"


def _dataset_name(dataset):
    """A dataset's name fit to publish: a folder's base name, never the
    local path it was read from."""
    if not isinstance(dataset, str) or not dataset:
        return None
    if "/" in dataset or os.sep in dataset:
        return os.path.basename(dataset.rstrip("/" + os.sep)) or None
    return dataset


def _trained_model(model):
    """`(ResidualModel, metrics or None)` of a model, run directory or
    `.keras` file."""
    if isinstance(model, (str, os.PathLike)):
        model, metrics = load_trained_model(
            os.fspath(model), argument="`model`", compile=False
        )
    else:
        metrics = None
    if not isinstance(model, ResidualModel):
        raise TypeError(
            "`model` must be a keras_residual model, a run directory of "
            "train() or a .keras file of one; received "
            f"{type(model).__name__}."
        )
    return model, metrics
