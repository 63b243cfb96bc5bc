"""Writing models out: atomic SavedModel and `.keras` files."""

import os

from keras_residual.atomic import atomic_directory
from keras_residual.atomic import atomic_path


def save_keras(model, path):
    """Saves `model` as a `.keras` file at `path`, atomically."""
    if not str(path).endswith(".keras"):
        raise ValueError(f"`path` must end in '.keras'; received {path!r}.")
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
    return path


def save_saved_model(model, path, overwrite=False):
    """Exports `model` as a TensorFlow SavedModel directory (signatures
    `serve` and `serving_default`), written to a temporary directory and
    renamed into place.

    Args:
        model: `keras.Model`. The model.
        path: str. The destination directory.
        overwrite: bool. Replace an existing export. Defaults to `False`.
    """
    if os.path.isfile(path):
        raise ValueError(
            f"`path` {path!r} is a file; a SavedModel is a directory.")
    with atomic_directory(path, overwrite=overwrite) as temporary:
        model.export(temporary, format="tf_saved_model", verbose=False)
    return path
