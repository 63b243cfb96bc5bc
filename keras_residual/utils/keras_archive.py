"""Reading a `.keras` file another program may have written: Keras unzips
its `config.json` into memory and builds what it declares, so the archive
is checked first, from the zip's directory alone: a regular file, its JSON
members at most `MAX_JSON_BYTES` once inflated, and nothing inflating past
`MAX_INFLATION` times the file's own size (a 5 MB file whose config.json
inflated to 3 GiB once took 4.8 GB). What the config declares (classes,
input sizes, depths and widths) is bounded by `keras_residual.core.spec`'s
`LIMITS` when the model is built."""

import json
import os
import zipfile

import keras

from keras_residual.utils.files import check_regular_file
from keras_residual.utils.validation import first_line

MAX_JSON_BYTES = 64 << 20
# Weights do not compress; a JSON config compresses ~10x. Headroom for both.
MAX_INFLATION, INFLATION_ALLOWANCE = 4, 256 << 20


def check_keras_archive(path):
    """Refuses a `.keras` file that would inflate past its bounds.

    Args:
        path: str. The `.keras` file.

    Raises:
        ValueError: a special file, not a zip, or a member too large,
            naming the member.
    """
    check_regular_file(path, "The .keras file")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(
            f"{path!r} is not a .keras archive ({type(error).__name__})."
        ) from None
    for member in members:
        if member.filename.endswith(".json") and member.file_size > MAX_JSON_BYTES:
            raise ValueError(
                f"{path!r}: its {member.filename} inflates to {member.file_size} "
                f"bytes, over the limit of {MAX_JSON_BYTES}; a model's config "
                "is a few hundred KB. Nothing was loaded."
            )
    inflated = sum(member.file_size for member in members)
    limit = MAX_INFLATION * os.path.getsize(path) + INFLATION_ALLOWANCE
    if inflated > limit:
        raise ValueError(
            f"{path!r} inflates to {inflated} bytes from "
            f"{os.path.getsize(path)} (a decompression bomb); a .keras file "
            f"inflates to at most {limit}. Nothing was loaded."
        )


def read_keras_config(path):
    """The model config a `.keras` file declares (its `config.json`, read
    after `check_keras_archive`; nothing is built).

    Args:
        path: str. The `.keras` file.

    Raises:
        ValueError: the checks' refusals, or a config that is not a JSON
            object.
    """
    check_keras_archive(path)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path!r} has no readable config.json ({type(error).__name__})."
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"{path!r}: its config.json is not a JSON object.")
    return config


def load_keras_model(path, compile=False):
    """`keras.saving.load_model(path, safe_mode=True)` after
    `check_keras_archive`.

    Args:
        path: str. The `.keras` file.
        compile: bool. Restore its compile state. Defaults to `False`.

    Raises:
        ValueError: the checks' refusals, and Keras' own errors, named.
    """
    check_keras_archive(path)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=compile)
    except Exception as error:  # Keras raises many types for a bad file
        raise ValueError(
            f"{path!r} is not a loadable .keras model ({type(error).__name__}"
            f": {first_line(error)})."
        ) from None
