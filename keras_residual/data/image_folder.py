"""Checking an image folder before training reads it: every image file is
decoded once, in parallel and with a progress bar on large folders, so a
corrupt file is named up front instead of killing an epoch. Bad files are
refused, or, on request, left out through a folder of links to the good
ones (the user's folder is never changed)."""

import atexit
import concurrent.futures
import os
import shutil
import tempfile

import keras

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Folders with more files than this show a progress bar while checked.
PROGRESS_FROM = 500


def image_files(directory):
    """Every image file under `directory` (what
    `keras.utils.image_dataset_from_directory` reads), sorted.

    Args:
        directory: str. The folder.
    """
    found = []
    for folder, _, names in os.walk(directory):
        found.extend(
            os.path.join(folder, name)
            for name in names
            if name.lower().endswith(IMAGE_SUFFIXES)
        )
    return sorted(found)


def bad_images(paths, workers=None):
    """The files among `paths` that TensorFlow cannot decode, with why.

    Args:
        paths: list of str. Image files.
        workers: int or None. Decoding threads. Defaults to the CPU count.

    Returns:
        A list of `(path, reason)` pairs, in the order of `paths`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    def check(path):
        try:
            data = tf.io.read_file(path)
            tf.io.decode_image(data, expand_animations=False)
            return None
        except (tf.errors.OpError, ValueError) as error:
            return (path, error.message if hasattr(error, "message") else str(error))

    progress = keras.utils.Progbar(len(paths)) if len(paths) >= PROGRESS_FROM else None
    failures = []
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        for done, result in enumerate(pool.map(check, paths), 1):
            if result is not None:
                failures.append(result)
            if progress is not None and (done % 100 == 0 or done == len(paths)):
                progress.update(done)
    return failures


def checked_folder(directory, skip_bad_images=False):
    """`directory`, checked: refused when any image cannot be decoded, or,
    with `skip_bad_images`, a temporary folder of links to its good images
    (removed when the process exits).

    Args:
        directory: str. A folder of class sub-folders.
        skip_bad_images: bool. Leave bad files out instead of refusing.
            Defaults to `False`.

    Raises:
        ValueError: naming every file that cannot be decoded.
    """
    paths = image_files(directory)
    failures = bad_images(paths)
    if not failures:
        return directory
    if not skip_bad_images:
        listed = "\n".join(f"  {path}: {reason}" for path, reason in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise ValueError(
            f"`dataset` {directory!r} has {len(failures)} image file(s) that "
            f"cannot be decoded:\n{listed}{more}\nRemove or fix them, or pass "
            "skip_bad_images=True (`--skip-bad-images`) to leave them out."
        )
    print(
        f"Skipping {len(failures)} of {len(paths)} image files in "
        f"{directory} that cannot be decoded.",
        flush=True,
    )
    return _linked_copy(directory, paths, {path for path, _ in failures})


def _linked_copy(directory, paths, bad):
    """A temporary folder of the same sub-folders, linking the good files."""
    root = tempfile.mkdtemp(prefix="keras_residual_images_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for path in paths:
        if path in bad:
            continue
        target = os.path.join(root, os.path.relpath(path, directory))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.path.abspath(path), target)
    # Class folders whose images are all bad still count as classes.
    for folder, subfolders, _ in os.walk(directory):
        for name in subfolders:
            relative = os.path.relpath(os.path.join(folder, name), directory)
            os.makedirs(os.path.join(root, relative), exist_ok=True)
    return root
