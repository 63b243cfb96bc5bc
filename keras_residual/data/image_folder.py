"""Checking an image folder before training reads it: every image file is
decoded once, in parallel and with a progress bar on large folders, so a
corrupt file is named up front instead of killing an epoch. Bad files are
refused, or, on request, left out through a folder of links to the good
ones (the user's folder is never changed)."""

import atexit
import concurrent.futures
import dataclasses
import os
import shutil
import tempfile

from keras_residual.utils.files import files_under
from keras_residual.utils.files import special_file_reason

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# No image file of a data set is larger; bigger ones are refused unread.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
# Folders with more files than this show a progress bar while checked.
PROGRESS_FROM = 500
# Pixels an image's header may declare: a 4000 x 3000 photo has 12 M; a
# 389 KB PNG declaring 20000 x 20000 once decoded to 3.8 GB.
MAX_IMAGE_PIXELS = 8192 * 8192


def image_files(directory):
    """Every image file under `directory` (what
    `keras.utils.image_dataset_from_directory` reads), sorted.

    Args:
        directory: str. The folder.
    """
    return files_under(directory, IMAGE_SUFFIXES)


def image_pixels_reason(path):
    """Why the image at `path` declares too many pixels to decode, read
    from its header alone, or None (a header Pillow cannot read is left to
    the decoder, which names the problem). An animation counts every
    frame: TensorFlow decodes them all, each the size of the canvas, before
    the first is kept.

    Args:
        path: str. An image file.
    """
    from PIL import Image  # lazy: only images need it

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return (
                    f"declares {width} x {height} pixels, over the limit of "
                    f"8192 x 8192 (it would decode to "
                    f"{width * height * 3 / 2**30:.1f} GB)"
                )
            frames_allowed = MAX_IMAGE_PIXELS // max(width * height, 1)
            if getattr(image, "is_animated", False) and _has_frame(
                image, frames_allowed
            ):
                return (
                    f"is an animation of over {frames_allowed} frames of "
                    f"{width} x {height} pixels, over the limit of 8192 x 8192 "
                    "pixels in all (TensorFlow decodes every frame)"
                )
    except Image.DecompressionBombError as error:  # Pillow's own, past 179 M
        return f"declares too many pixels ({error})"
    except Exception:  # not an image Pillow knows: TensorFlow will say why
        return None
    return None


def _has_frame(image, index):
    """Whether the animation `image` has a frame `index` (read up to it
    through the frame headers, without decoding the frames)."""
    try:
        image.seek(index)
    except EOFError:
        return False
    return True


def scan_images(paths, workers=None):
    """Decodes every file among `paths` once: which cannot be decoded (and
    why), and whether all the others are grey.

    Args:
        paths: list of str. Image files.
        workers: int or None. Decoding threads. Defaults to the CPU count.

    Returns:
        `(failures, grey, sizes)`: a list of `(path, reason)` pairs, in the
        order of `paths`; whether every good image has one channel (two
        with alpha) or three equal ones; and the set of their
        `(height, width)`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    def check(path):
        special = special_file_reason(path, MAX_IMAGE_BYTES)
        if special is not None:  # a link to /dev/zero, a FIFO: never read
            return (path, special), True, None
        too_large = image_pixels_reason(path)
        if too_large is not None:
            return (path, too_large), True, None
        try:
            image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        except (tf.errors.OpError, ValueError) as error:
            reason = error.message if hasattr(error, "message") else str(error)
            return (path, reason), True, None
        channels = image.shape[-1]
        grey = channels in (1, 2) or bool(
            tf.reduce_all(image[..., 0] == image[..., 1])
            and tf.reduce_all(image[..., 1] == image[..., 2])
        )
        return None, grey, tuple(image.shape[:2])

    import keras  # lazy: reading an image's header needs no Keras

    progress = keras.utils.Progbar(len(paths)) if len(paths) >= PROGRESS_FROM else None
    failures, grey, sizes = [], True, set()
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        for done, (failure, is_grey, size) in enumerate(pool.map(check, paths), 1):
            if failure is not None:
                failures.append(failure)
            else:
                sizes.add(size)
            grey = grey and is_grey
            if progress is not None and (done % 100 == 0 or done == len(paths)):
                progress.update(done)
    return failures, grey, sizes


def bad_images(paths, workers=None):
    """The files among `paths` that TensorFlow cannot decode, with why.

    Args:
        paths: list of str. Image files.
        workers: int or None. Decoding threads. Defaults to the CPU count.

    Returns:
        A list of `(path, reason)` pairs, in the order of `paths`.
    """
    return scan_images(paths, workers)[0]


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """An image folder, checked.

    Args:
        root: str. The folder to read: the user's, or a temporary folder of
            links to its good images when bad ones are skipped.
        images: int. Image files that decode.
        grey: bool. Every one of them is grey.
        size: tuple or None. Their `(height, width)` where all share one.
    """

    root: str
    images: int
    grey: bool
    size: tuple = None


def checked_folder(directory, skip_bad_images=False):
    """`directory`, checked: refused when any image cannot be decoded, or,
    with `skip_bad_images`, read through a temporary folder of links to its
    good images (removed when the process exits).

    Args:
        directory: str. A folder of class sub-folders.
        skip_bad_images: bool. Leave bad files out instead of refusing.
            Defaults to `False`.

    Returns:
        A `FolderScan`.

    Raises:
        ValueError: naming every file that cannot be decoded.
    """
    paths = image_files(directory)
    failures, grey, sizes = scan_images(paths)
    size = next(iter(sizes)) if len(sizes) == 1 else None
    if not failures:
        return FolderScan(directory, len(paths), grey, size)
    if not skip_bad_images:
        listed = "\n".join(f"  {path}: {reason}" for path, reason in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise ValueError(
            f"`dataset` {directory!r} has {len(failures)} image file(s) that "
            f"cannot be decoded:\n{listed}{more}\nRemove or fix them, or pass "
            "skip_bad_images=True (`--skip-bad-images`) to leave them out."
        )
    bad = {path for path, _ in failures}
    if len(bad) == len(paths):
        raise ValueError(
            f"`dataset` {directory!r}: none of its {len(paths)} image file(s) "
            f"can be decoded (e.g. {failures[0][0]}: {failures[0][1]})."
        )

    def folder(path):
        return os.path.relpath(os.path.dirname(path), directory)

    emptied = sorted(
        {folder(p) for p in bad} - {folder(p) for p in paths if p not in bad}
    )
    if emptied:
        raise ValueError(
            f"`dataset` {directory!r}: class folder {emptied[0]!r} has no image "
            "that can be decoded once the bad ones are skipped; add images to "
            "it or remove it."
        )
    print(
        f"Skipping {len(failures)} of {len(paths)} image files in "
        f"{directory} that cannot be decoded.",
        flush=True,
    )
    root = _linked_copy(directory, paths, bad)
    return FolderScan(root, len(paths) - len(failures), grey, size)


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
