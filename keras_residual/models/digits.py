"""`weights="digits"`: reference models the project trained on the embedded
digits with its own recipe, shipped inside the package (no download).

`keras_residual/pretrained/manifest.json` lists them; it and the weight
files are written by `python examples/reference_models.py`, which also
writes the matching SavedModels to `saved_models/`.
"""

import json
from importlib import resources

from keras_residual.weights import WeightsFile
from keras_residual.weights import register_weights

MANIFEST = "pretrained/manifest.json"
TAG = "digits"


def register_digits_weights():
    """Registers every model of the manifest under `weights="digits"`."""
    package = resources.files("keras_residual")
    manifest = package.joinpath(MANIFEST)
    if not manifest.is_file():
        return {}
    with manifest.open() as handle:
        entries = json.load(handle)
    for name, entry in entries.items():
        register_weights(
            name, TAG,
            top=WeightsFile(path=str(package.joinpath(
                "pretrained", entry["file"])), file_hash=entry["sha256"]),
            classes=entry["classes"],
            input_channels=entry["input_channels"],
            description=f"digits, test accuracy {entry['test_accuracy']:.4f}",
            overwrite=True)
    return entries


DIGITS_WEIGHTS = register_digits_weights()
