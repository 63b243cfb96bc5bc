"""The Free Spoken Digit Dataset (FSDD v1.0.9) offline: the release
archive, found in a data folder or TFDS's manual folder and checked against
its sha256, prepared by TFDS's own `spoken_digit` builder into the
ordinary TFDS cache, and split as its README says.

2,500 recordings, 8 kHz mono, trimmed: 5 speakers x 10 digits x 50
(`{digit}_{speaker}_{index}.wav`). The dataset's own test split is every
recording with index 0-4 (250); validation is drawn from the rest,
stratified by digit and speaker. `holdout_speaker=` is the
speaker-independent protocol: one speaker's 500 recordings are the test
split and the model never hears that voice in training.
"""

import os
import stat

import numpy as np

from keras_residual.utils.download import file_digest
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float

ARCHIVE = "free-spoken-digit-dataset-1.0.9.tar.gz"
ARCHIVE_SHA256 = "8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0"
ARCHIVE_BYTES = 11_975_353
ARCHIVE_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"
)
DATA_DIR_ENV = "KERAS_RESIDUAL_DATA_DIR"
TFDS_NAME = "spoken_digit"
SAMPLE_RATE = 8000
CLASS_NAMES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip
SPEAKERS = ("george", "jackson", "nicolas", "theo", "yweweler")
TEST_INDICES = range(5)  # the README's split: recordings 0-4 of each


def search_directories(data_dir=None):
    """Where the archive is looked for, in order: `data_dir` and its
    `downloads/manual/`, `$KERAS_RESIDUAL_DATA_DIR` and its
    `downloads/manual/`, then TFDS's default manual folder.

    Args:
        data_dir: str or None. A folder the user named. Defaults to `None`.
    """
    found = []
    for root in (data_dir, os.environ.get(DATA_DIR_ENV)):
        if root:
            root = os.path.expanduser(os.fspath(root))
            found += [root, os.path.join(root, "downloads", "manual")]
    found.append(os.path.expanduser("~/tensorflow_datasets/downloads/manual"))
    return list(dict.fromkeys(found))


def find_archive(data_dir=None):
    """The path of the first archive found, checked (a regular file of the
    published size and sha256), or None where there is none.

    Args:
        data_dir: str or None. A folder to search first. Defaults to `None`.

    Raises:
        ValueError: a file of the archive's name is not the archive (named,
            with what was wrong).
    """
    for folder in search_directories(data_dir):
        path = os.path.join(folder, ARCHIVE)
        if not os.path.lexists(path):
            continue
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path!r} is not a regular file; expected {ARCHIVE}.")
        if info.st_size != ARCHIVE_BYTES:
            raise ValueError(
                f"{path!r} has {info.st_size} bytes; the FSDD v1.0.9 archive has "
                f"{ARCHIVE_BYTES}. It is truncated or another file: download it "
                f"again from {ARCHIVE_URL}."
            )
        if file_digest(path, "sha256") != ARCHIVE_SHA256:
            raise ValueError(
                f"{path!r} does not match the FSDD v1.0.9 sha256 "
                f"{ARCHIVE_SHA256[:12]}...; it is corrupt: download it again "
                f"from {ARCHIVE_URL}."
            )
        return path
    return None


def missing_archive_message(data_dir=None):
    """Says where the archive was looked for and where to get it.

    Args:
        data_dir: str or None. The folder the user named.
    """
    return (
        f"The Free Spoken Digit Dataset archive {ARCHIVE} is not in "
        f"{search_directories(data_dir)}. Download it from {ARCHIVE_URL} "
        f"(sha256 {ARCHIVE_SHA256[:12]}...) into data_dir or "
        f"${DATA_DIR_ENV}, or pass download=True (`--download`) to let TFDS "
        "download it."
    )


def prepared_builder(data_dir=None, download=False):
    """TFDS's `spoken_digit` builder, prepared in `data_dir` (TFDS's default
    when None) from the local archive, or by TFDS's own download when there
    is none and `download` is true.

    Args:
        data_dir: str or None. TFDS data directory, also searched for the
            archive. Defaults to TFDS's.
        download: bool. Let TFDS download the archive. Defaults to `False`.
    """
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    builder = tfds.builder(TFDS_NAME, data_dir=data_dir)
    if builder.is_prepared():
        return builder
    archive = find_archive(data_dir)
    if archive is None:
        if not download:
            raise ValueError(missing_archive_message(data_dir))
        builder.download_and_prepare()
        return builder
    # TFDS takes a file of the registered name from `manual_dir`, checks its
    # registered sha256 and prepares as after a download.
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=os.path.dirname(archive)
        )
    )
    return builder


def load_clips(data_dir=None, download=False):
    """Every recording, through TFDS, sorted by file name.

    Args:
        data_dir: str or None. See `prepared_builder`. Defaults to `None`.
        download: bool. See `prepared_builder`. Defaults to `False`.

    Returns:
        dict: `audio` (list of int16 arrays), `labels` (int32), `speakers`
        and `names` (str arrays), `indices` (int32: the recording's number).
    """
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    builder = prepared_builder(data_dir, download)
    examples = sorted(
        tfds.as_numpy(builder.as_dataset(split="train")),
        key=lambda example: example["audio/filename"],
    )
    names = [example["audio/filename"].decode() for example in examples]
    parts = [name[: -len(".wav")].split("_") for name in names]
    return {
        "audio": [example["audio"].astype(np.int16) for example in examples],
        "labels": np.array([int(p[0]) for p in parts], np.int32),
        "speakers": np.array([p[1] for p in parts]),
        "indices": np.array([int(p[2]) for p in parts], np.int32),
        "names": np.array(names),
    }


def split_indices(clips, holdout_speaker=None, validation_fraction=0.1, seed=0):
    """`{"train", "validation", "test"}` row indices of `clips`.

    Args:
        clips: dict. From `load_clips` (`labels`, `speakers`, `indices`).
        holdout_speaker: str or None. None: the dataset's split (indices
            0-4 are the test split); a speaker's name: that speaker's
            recordings are the test split. Defaults to `None`.
        validation_fraction: float. The share of each (digit, speaker)
            group of the rest drawn for validation. Defaults to `0.1`.
        seed: int. Seeds the draw. Defaults to `0`.
    """
    check_float("validation_fraction", validation_fraction, 0.0, 0.5)
    labels, speakers = clips["labels"], clips["speakers"]
    if holdout_speaker is None:
        test = np.isin(clips["indices"], TEST_INDICES)
    else:
        known = tuple(str(speaker) for speaker in np.unique(speakers))
        check_choice("holdout_speaker", holdout_speaker, known)
        test = speakers == holdout_speaker
    rng = np.random.default_rng(seed)
    validation = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        for speaker in np.unique(speakers[~test]):
            group = np.flatnonzero((labels == label) & (speakers == speaker) & ~test)
            count = int(round(validation_fraction * len(group)))
            validation[rng.choice(group, count, replace=False)] = True
    return {
        "train": np.flatnonzero(~test & ~validation),
        "validation": np.flatnonzero(validation),
        "test": np.flatnonzero(test),
    }


def fixed_length(clips, samples):
    """The clips centred in `samples` samples (zero-padded, or cropped
    about their centre), as one int16 array `(n, samples)`.

    Args:
        clips: sequence of 1-D int16 arrays.
        samples: int. The length.
    """
    out = np.zeros((len(clips), samples), np.int16)
    for row, clip in zip(out, clips):
        if len(clip) >= samples:
            start = (len(clip) - samples) // 2
            row[:] = clip[start : start + samples]
        else:
            start = (samples - len(clip)) // 2
            row[start : start + len(clip)] = clip
    return out
