"""A user's own recordings: a folder of class sub-folders of `.wav` files
(or `train/`, `validation/`, `test/` folders of them), split like an image
folder and read at the model's rate.

Each file is read by `read_wav` (PCM of any width, rate and channel count:
averaged to mono and resampled by linear interpolation, the header checked
before a sample is read). `keras.utils.audio_dataset_from_directory` is not
used: it neither resamples nor reads 8-, 24- or 32-bit PCM.
"""

import os

import numpy as np

from keras_residual.data.folder_splits import split_files
from keras_residual.data.image_folder import IMAGE_SUFFIXES
from keras_residual.data.wav import read_wav
from keras_residual.utils.files import files_under

AUDIO_SUFFIXES = (".wav",)


def wav_files(directory):
    """Every `.wav` file under `directory`, sorted.

    Args:
        directory: str. The folder.
    """
    return files_under(directory, AUDIO_SUFFIXES)


def is_audio_folder(dataset):
    """Whether `dataset` is a folder of WAV files and no images.

    Args:
        dataset: object. What `load_data` was given.
    """
    if not isinstance(dataset, (str, os.PathLike)) or not os.path.isdir(dataset):
        return False
    found_wav = False
    for _, _, names in os.walk(dataset):  # an image folder stops at its first image
        for name in names:
            if name.lower().endswith(IMAGE_SUFFIXES):
                return False
            found_wav = found_wav or name.lower().endswith(AUDIO_SUFFIXES)
    return found_wav


def read_audio_folder(directory, options, sample_rate):
    """The clips of each split of a WAV folder.

    Args:
        directory: str. The folder.
        options: `LoadOptions`. Its `validation_fraction`, `test_fraction`
            and `seed` split a flat folder (stratified by class); a folder
            with `train/` but no validation folder gives `validation_fraction`
            of each training class to validation.
        sample_rate: int. The rate the clips are read at.

    Returns:
        `(splits, class_names)`: `{split: (clips, labels, paths)}` (int16
        clips, an int32 label array, file paths) and the class names.
    """
    if options.holdout_speaker is not None:
        raise ValueError(
            f"`holdout_speaker` ({options.holdout_speaker!r}) applies to "
            "spoken_digit; an audio folder's test split is its test/ folder "
            "or `test_fraction` of each class."
        )
    files, class_names, _ = split_files(
        os.fspath(directory),
        options.validation_fraction,
        options.test_fraction,
        options.seed,
        files_of=wav_files,
    )
    if "validation" not in files and options.validation_fraction > 0:
        files["train"], files["validation"] = _hold_out(
            *files["train"], options.validation_fraction, options.seed
        )
    splits = {}
    for split, (paths, labels) in files.items():
        clips = [read_wav(path, sample_rate) for path in paths]
        splits[split] = (clips, np.asarray(labels, np.int32), tuple(paths))
    return splits, tuple(class_names)


def _hold_out(paths, labels, fraction, seed):
    """`(kept, held)`: `fraction` of each class of `(paths, labels)` held."""
    rng, labels = np.random.default_rng(seed), np.asarray(labels)
    held = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        group = np.flatnonzero(labels == label)
        count = min(len(group) - 1, int(round(fraction * len(group))))
        held[rng.choice(group, count, replace=False)] = True
    return tuple(
        ([p for p, keep in zip(paths, mask) if keep], labels[mask].tolist())
        for mask in (~held, held)
    )
