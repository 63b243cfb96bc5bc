"""Atomic file and directory writes: write beside the target, then rename.

A reader (or a resumed run) sees either the old content or the new, never a
half-written file, even if the writer is killed with SIGKILL.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`; renames it onto `path` when the
    block succeeds and removes it when the block fails.

    Args:
        path: str. The final file path.
        suffix: str. Suffix for the temporary name (some writers check
            extensions, e.g. `".weights.h5"`). Defaults to `""`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=_staging_prefix(path), suffix=f".tmp{suffix}", dir=directory
    )
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, path)
        _fsync_directory(directory)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes `text` to `path` atomically.

    Args:
        path: str. The file.
        text: str. Its content.
    """
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            handle.write(text)


def write_json(path, data):
    """Writes `data` as indented JSON to `path` atomically.

    Args:
        path: str. The file.
        data: object. JSON-serialisable data.
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yields a temporary directory beside `path` and renames it to `path`
    when the block succeeds.

    Args:
        path: str. The final directory.
        overwrite: bool. Replace an existing directory; otherwise an existing
            `path` raises `FileExistsError` before anything is written.
            Defaults to `False`.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it."
        )
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(
        prefix=_staging_prefix(path), suffix=".tmp", dir=parent
    )
    os.chmod(temporary, 0o777 & ~_umask())
    try:
        yield temporary
        if os.path.exists(path):
            retired = temporary + ".old"
            os.replace(path, retired)
            os.replace(temporary, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(temporary, path)
        _fsync_directory(parent)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary, ignore_errors=True)


# `.{target}.kr-{8 random characters of tempfile's}.tmp{suffix}`, and the
# same without `kr-` from before 0.3: a user's `.notes.tmp` is not one.
STAGING_NAME = re.compile(r"\.(?P<target>.+)\.(kr-)?[a-z0-9_]{8}\.tmp(\..+)?")


def _staging_prefix(path):
    """The temporary-name prefix of a staged write of `path`."""
    return f".{os.path.basename(path)}.kr-"


def is_staging_name(name, target=None):
    """Whether `name` is a temporary entry of `atomic_path` or
    `atomic_directory` (`.{target}.kr-{random}.tmp...`), of `target` if
    given.

    Args:
        name: str. A file or folder name.
        target: str or None. The staged file or folder name. Defaults to
            `None` (any).
    """
    match = STAGING_NAME.fullmatch(name)
    return match is not None and target in (None, match.group("target"))


def remove_stale_staging(directory, target=None):
    """Removes the temporary entries a killed atomic write left in
    `directory`; returns their names. Call it only where no other writer
    of those entries is active (a run directory, one export destination).

    Args:
        directory: str. The folder.
        target: str or None. Only the staging of this file or folder name
            Defaults to `None` (all of them).
    """
    directory = directory or "."
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        if not is_staging_name(name, target):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
        removed.append(name)
    return removed


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory):
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def save_keras(model, path):
    """Saves `model` as a `.keras` file at `path`, atomically.

    Args:
        model: `keras.Model`. The model.
        path: str. The destination, ending in `.keras`.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(f"`path` must end in '.keras'; received {path!r}.")
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
    return path
