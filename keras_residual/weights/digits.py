"""`weights="digits"`: reference models the project trained on the embedded
digits with its own recipe, shipped inside the package (no download).

`keras_residual/weights/pretrained/manifest.json` lists them; it and the weight
files are written by `python examples/reference_models.py`, which also
writes the matching SavedModels to `saved_models/`.
"""

import json
from importlib import resources

from keras_residual.utils.download import WeightsFile
from keras_residual.weights.registry import register_weights

PRETRAINED_FOLDER = "pretrained"
MANIFEST = "manifest.json"
TAG = "digits"


def pretrained_folder():
    """The folder of the shipped weight files and their manifest, inside the
    installed package."""
    return resources.files("keras_residual.weights").joinpath(PRETRAINED_FOLDER)


def register_digits_weights():
    """Registers every model of the manifest under `weights="digits"` and
    returns the manifest (`{model: entry}`; empty without a manifest)."""
    folder = pretrained_folder()
    manifest = folder.joinpath(MANIFEST)
    if not manifest.is_file():
        return {}
    with manifest.open() as handle:
        entries = json.load(handle)
    for name, entry in entries.items():
        register_weights(
            name,
            TAG,
            top=WeightsFile(
                path=str(folder.joinpath(entry["file"])), file_hash=entry["sha256"]
            ),
            classes=entry["classes"],
            input_channels=entry["input_channels"],
            description=f"digits, test accuracy {entry['test_accuracy']:.4f}",
            preprocessing=entry["preprocessing"],
            input_size=entry["input_size"],
            class_names=entry["class_names"],
            source="keras_residual: examples/reference_models.py",
            license="Apache-2.0",
            top1=round(100 * entry["test_accuracy"], 2),
            overwrite=True,
        )
    return entries


DIGITS_WEIGHTS = register_digits_weights()
