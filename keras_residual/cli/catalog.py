"""What `keras-residual models` and `weights` list, read from
`catalog.json` beside this module, so that they answer without loading
Keras or TensorFlow. The file is written from the registries by
`python -m keras_residual.cli.catalog`; a test checks it still matches
them."""

import json
import os
import sys

from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.utils.validation import unknown_name_message

CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalog.json")
MAX_CATALOG_BYTES = 1 << 20


def build_catalog(sizes=True):
    """The catalog from the live registries (imports the package):
    `{"models": {name: {"description", "weights": {tag: {...}}}}}`.

    Args:
        sizes: bool. Include each weights entry's `size_mb` (builds the
            models of weights not packaged). Defaults to `True`.
    """
    import keras_residual
    from keras_residual.weights.registry import get_weights_entry

    tags = keras_residual.list_weights()
    models = {}
    for name, description in keras_residual.list_models().items():
        infos = keras_residual.list_weights(name) if sizes else {}
        weights = {}
        for tag in tags.get(name, []):
            entry = get_weights_entry(name, tag)
            weights[tag] = {
                "top1": entry.top1,
                "license": entry.license,
                "source": entry.source,
            }
            if sizes:
                weights[tag]["size_mb"] = infos[tag].size_mb
        models[name] = {"description": description, "weights": weights}
    return {"models": models}


def read_catalog(path=CATALOG):
    """The catalog as written by `build_catalog()`.

    Args:
        path: str. The file. Defaults to the packaged `catalog.json`.
    """
    return read_json_file(path, "the model catalog", MAX_CATALOG_BYTES)


def catalog_weights(catalog, model):
    """`{tag: {"top1", "size_mb", "license", "source"}}` of `model`; an
    unknown name is refused with close matches.

    Args:
        catalog: dict. From `read_catalog()`.
        model: str. A model name.
    """
    models = catalog["models"]
    if model not in models:
        raise ValueError(unknown_name_message("model", model, models, kind="model"))
    return models[model]["weights"]


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else CATALOG, "w") as handle:
        json.dump(build_catalog(), handle, indent=1)
        handle.write("\n")
