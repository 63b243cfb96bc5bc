"""An image folder as train/validation/test splits: its `train/`, `val/`
(or `validation/`) and `test/` sub-folders when it has them, else every
class folder split by stated fractions with a seed (stratified), and the
`tf.data` reader of the files."""

import os

import numpy as np

from keras_residual.data.image_decode import decode_image
from keras_residual.data.image_folder import image_files

SPLIT_FOLDERS = {
    "train": ("train",),
    "validation": ("validation", "val", "valid"),
    "test": ("test",),
}


def class_folders(directory):
    """The class names of `directory`: its sub-folders, sorted (as
    `keras.utils.image_dataset_from_directory` orders them).

    Args:
        directory: str. A folder of class sub-folders.
    """
    return sorted(
        name
        for name in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, name))
    )


def split_files(
    directory, validation_fraction, test_fraction, seed, files_of=image_files
):
    """The files of each split (images, or what `files_of` lists) and
    their labels.

    Args:
        directory: str. The folder.
        validation_fraction: float. Share of each class held out for
            validation (a flat folder).
        test_fraction: float. Share of each class held out for testing (a
            flat folder).
        seed: int. The seed of the hold-out.
        files_of: callable. The files of a class folder, sorted. Defaults
            to `image_files`.

    Returns:
        `(splits, class_names, how)`: `{split: (paths, labels)}`, the class
        names, and one line saying how the splits were made.
    """
    if os.path.isdir(os.path.join(directory, "train")):
        return _presplit_files(directory, files_of)
    class_names = class_folders(directory)
    rng = np.random.default_rng(seed)
    splits = {name: ([], []) for name in SPLIT_FOLDERS}
    for label, name in enumerate(class_names):
        files = files_of(os.path.join(directory, name))
        held_test = int(round(len(files) * test_fraction))
        held_validation = int(round(len(files) * validation_fraction))
        if len(files) - held_test - held_validation < 1:
            raise ValueError(
                f"Class folder {name!r} of {directory!r} has {len(files)} "
                f"file(s), which leaves no training file after holding out "
                f"validation_fraction={validation_fraction} and "
                f"test_fraction={test_fraction}; add files or lower them."
            )
        order = rng.permutation(len(files))
        parts = {
            "test": order[:held_test],
            "validation": order[held_test : held_test + held_validation],
            "train": order[held_test + held_validation :],
        }
        for split, indices in parts.items():
            splits[split][0].extend(files[i] for i in sorted(indices))
            splits[split][1].extend([label] * len(indices))
    train_share = 1.0 - validation_fraction - test_fraction
    how = (
        f"split per class {train_share:.0%}/{validation_fraction:.0%}/"
        f"{test_fraction:.0%} (train/validation/test, seed {seed})"
    )
    return {k: v for k, v in splits.items() if v[0]}, class_names, how


def _presplit_files(directory, files_of):
    class_names = class_folders(os.path.join(directory, "train"))
    splits, used = {}, []
    for split, candidates in SPLIT_FOLDERS.items():
        folder = next(
            (
                os.path.join(directory, name)
                for name in candidates
                if os.path.isdir(os.path.join(directory, name))
            ),
            None,
        )
        if folder is None:
            continue
        used.append(os.path.basename(folder) + "/")
        unknown = sorted(set(class_folders(folder)) - set(class_names))
        if unknown:
            raise ValueError(
                f"{folder!r} has class folders that train/ lacks: {unknown}; "
                f"the classes are {class_names}."
            )
        paths, labels = [], []
        for label, name in enumerate(class_names):
            if os.path.isdir(os.path.join(folder, name)):
                files = files_of(os.path.join(folder, name))
                paths.extend(files)
                labels.extend([label] * len(files))
        if paths:
            splits[split] = (paths, labels)
    return splits, class_names, f"from its {', '.join(used)} folders"


def files_dataset(paths, labels, size, channels):
    """An unbatched `tf.data.Dataset` of `(float32 image, int32 label)`:
    each file decoded to `channels`, resized bilinearly to `size`.

    Args:
        paths: list of str. Image files.
        labels: list of int. Their labels.
        size: tuple. `(height, width)`.
        channels: int. 1 (grey) or 3 (RGB).
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    def load(path, label):
        image = decode_image(tf.io.read_file(path), channels)
        return tf.image.resize(image, size), label

    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths), tf.constant(labels, tf.int32))
    )
    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
