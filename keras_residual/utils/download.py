"""Hash-checked files: packaged with the library or downloaded once into the
Keras cache, and never cached when the hash does not match."""

import dataclasses
import hashlib
import os
import shutil
import tempfile

from keras_residual.utils.files import check_regular_file


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable or packaged file (weights, or a class index).

    Args:
        url: str or None. Where to download it from. Defaults to `None`.
        file_hash: str or None. Its sha256 (64 hex digits) or md5 hash.
            Defaults to `None`.
        path: str or None. A local file shipped with a package; used instead
            of `url` when given. Defaults to `None`.
        hub_repo: str or None. A Hugging Face Hub repository to download
            `hub_filename` from instead of `url` (needs `huggingface_hub`).
            Defaults to `None`.
        hub_filename: str. The file in `hub_repo`.
            Defaults to `"model.safetensors"`.
    """

    url: str = None
    file_hash: str = None
    path: str = None
    hub_repo: str = None
    hub_filename: str = "model.safetensors"

    @property
    def file_name(self):
        if self.hub_repo is not None:
            return self.hub_filename
        return os.path.basename(self.path or self.url)


def file_digest(path, algorithm):
    """Returns the hex digest of the file at `path`.

    Args:
        path: str. The file.
        algorithm: str. A `hashlib` algorithm name, e.g. `"sha256"`.
    """
    check_regular_file(path, "File")
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(directory, exclude=()):
    """A sha256 over every file under `directory` (relative names and
    contents, in sorted order), e.g. of a SavedModel.

    Args:
        directory: str. The folder.
        exclude: tuple of str. Relative names left out (the model card that
            records the digest). Defaults to `()`.
    """
    digest = hashlib.sha256()
    for folder, subfolders, names in os.walk(directory):
        subfolders.sort()
        for name in subfolders:  # os.walk lists links to folders without entering
            if os.path.islink(os.path.join(folder, name)):
                raise ValueError(
                    f"{os.path.join(folder, name)!r} is a link to a folder; an "
                    "export holds its files directly."
                )
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, directory).replace(os.sep, "/")
            if relative in exclude:
                continue
            digest.update(relative.encode("utf8") + b"\0")
            digest.update(file_digest(path, "sha256").encode("ascii"))
    return digest.hexdigest()


def hash_matches(path, file_hash):
    """Checks `path` against a sha256 (64 hex digits) or md5 hash.

    Args:
        path: str. The file.
        file_hash: str. The expected hash.
    """
    algorithm = "sha256" if len(file_hash) == 64 else "md5"
    return file_digest(path, algorithm) == file_hash.lower()


def cache_directory():
    """Where downloads are cached: `$KERAS_HOME/models`, else
    `~/.keras/models`, shared with keras.applications."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


def fetch_weights_file(weights_file):
    """Returns a local path for `weights_file`, downloading it if needed.

    Downloads go through `keras.utils.get_file` (with its progress bar) into
    a staging folder; only a file whose hash matches is moved into the cache,
    so a failed or corrupt download leaves nothing cached.

    Args:
        weights_file: `WeightsFile`. The file to fetch.

    Raises:
        ValueError: a packaged file is missing or does not match its hash,
            or a downloaded file does not match its hash.
        OSError: the download failed.
    """
    if weights_file.path is not None:
        return _packaged_file(weights_file)
    cache = cache_directory()
    target = os.path.join(cache, weights_file.file_name)
    if os.path.isfile(target) and (
        weights_file.file_hash is None or hash_matches(target, weights_file.file_hash)
    ):
        return target
    import keras  # lazy: hashing and reading files need no Keras

    os.makedirs(cache, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".download-", dir=cache)
    try:
        try:
            staged = keras.utils.get_file(
                weights_file.file_name,
                weights_file.url,
                cache_dir=staging,
                cache_subdir="staging",
            )
        except Exception as error:  # get_file raises bare Exception
            raise OSError(
                f"Could not download weights from {weights_file.url} "
                f"({error}). Without network access, fetch that file "
                "elsewhere and pass its path instead: weights='/path/to/"
                f"{weights_file.file_name}'."
            ) from error
        if weights_file.file_hash and not hash_matches(staged, weights_file.file_hash):
            raise ValueError(
                f"The file downloaded from {weights_file.url} does not match "
                f"its registered hash {weights_file.file_hash}; it was "
                "discarded and nothing was cached."
            )
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _packaged_file(weights_file):
    if not os.path.isfile(weights_file.path):
        raise ValueError(
            f"Packaged weights file is missing: {weights_file.path}. "
            "Reinstall keras-residual."
        )
    if weights_file.file_hash and not hash_matches(
        weights_file.path, weights_file.file_hash
    ):
        raise ValueError(
            f"Packaged weights file {weights_file.path} does not match "
            f"its registered hash {weights_file.file_hash} (corrupt or "
            "replaced); nothing was loaded. Reinstall keras-residual."
        )
    return weights_file.path
