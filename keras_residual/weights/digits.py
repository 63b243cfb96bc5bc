"""Weights the project trained itself and ships inside the package (no
download): `weights="digits"` (the embedded digits),
`weights="fashion_mnist"` (Fashion-MNIST, the real 28x28 test set) and
`weights="spoken_digit"` (recorded speech: an audio model, its front end
recorded in the manifest).

`keras_residual/weights/pretrained/manifest.json` (digits),
`manifest-fashion_mnist.json` and `manifest-spoken_digit.json` list them;
the manifests and weight files are written by
`python examples/reference_models.py [--dataset fashion_mnist]` and
`python examples/spoken_digit.py --ship`, which also write the matching
SavedModels to `saved_models/`.
"""

import json
from importlib import resources

from keras_residual.utils.download import WeightsFile
from keras_residual.weights.registry import register_weights

PRETRAINED_FOLDER = "pretrained"
# Weights name -> its manifest in `pretrained/`.
MANIFESTS = {
    "digits": "manifest.json",
    "fashion_mnist": "manifest-fashion_mnist.json",
    "spoken_digit": "manifest-spoken_digit.json",
}


def pretrained_folder():
    """The folder of the shipped weight files and their manifests, inside
    the installed package."""
    return resources.files("keras_residual.weights").joinpath(PRETRAINED_FOLDER)


def manifest_name(tag):
    """The manifest file of the shipped weights `tag`.

    Args:
        tag: str. `"digits"` or `"fashion_mnist"`.
    """
    return MANIFESTS[tag]


def register_shipped_weights(tag):
    """Registers every model of `tag`'s manifest under `weights=tag` and
    returns the manifest (`{model: entry}`; empty without a manifest).

    Args:
        tag: str. A key of `MANIFESTS`.
    """
    folder = pretrained_folder()
    manifest = folder.joinpath(manifest_name(tag))
    if not manifest.is_file():
        return {}
    with manifest.open() as handle:
        entries = json.load(handle)
    dataset = tag.replace("_", "-")
    for name, entry in entries.items():
        register_weights(
            name,
            tag,
            top=WeightsFile(
                path=str(folder.joinpath(entry["file"])), file_hash=entry["sha256"]
            ),
            classes=entry["classes"],
            input_channels=entry["input_channels"],
            description=f"{dataset}, test accuracy {entry['test_accuracy']:.4f}",
            preprocessing=entry["preprocessing"],
            input_size=entry["input_size"],
            class_names=entry["class_names"],
            source="keras_residual: examples/reference_models.py",
            license="Apache-2.0",
            top1=round(100 * entry["test_accuracy"], 2),
            front_end=entry.get("front_end"),
            overwrite=True,
        )
    return entries


DIGITS_WEIGHTS = register_shipped_weights("digits")
FASHION_MNIST_WEIGHTS = register_shipped_weights("fashion_mnist")
SPOKEN_DIGIT_WEIGHTS = register_shipped_weights("spoken_digit")
