"""Data sources: the embedded digits, NumPy arrays, image directories and
TFDS datasets, each read into a typed `SourceData` of unbatched splits."""

import dataclasses
import os

import numpy as np

from keras_residual.data import fashion_mnist
from keras_residual.data.digits import DIGITS_CLASS_NAMES
from keras_residual.data.digits import EMBEDDED_DATASETS
from keras_residual.data.digits import load_digits_arrays
from keras_residual.data.folder_splits import files_dataset
from keras_residual.data.folder_splits import split_files
from keras_residual.data.image_folder import checked_folder
from keras_residual.utils.validation import close_matches


@dataclasses.dataclass(frozen=True)
class SourceOptions:
    """How to read a source.

    Args:
        data_dir: str or None. TFDS data directory.
        download: bool. Let TFDS download missing data.
        validation_fraction: float. Share of the training data held out
            where the source has no validation split.
        seed: int. Seed of the hold-out split.
        image_size: tuple or None. `(height, width)` to resize to.
        class_names: sequence of str or None. Names for array sources.
        skip_bad_images: bool. Leave out image files that cannot be decoded
            (an image folder) instead of refusing the folder.
        color_mode: str. An image folder's channels: `"auto"` (grey when
            every image is grey), `"rgb"` or `"grayscale"`.
        test_fraction: float. Share of each class of a flat image folder
            held out for testing.
        default_size: tuple or None. `(height, width)` of an image folder
            without `image_size` (the model's or the weights' size).
    """

    data_dir: str = None
    download: bool = False
    validation_fraction: float = 0.1
    seed: int = 0
    image_size: tuple = None
    class_names: tuple = None
    skip_bad_images: bool = False
    color_mode: str = "auto"
    test_fraction: float = 0.1
    default_size: tuple = None


@dataclasses.dataclass
class SourceData:
    """What a source yields, before the pipeline.

    Args:
        source: str. Where the data came from (`"digits"`, `"arrays"`, a
            directory, `"tfds:NAME"`).
        splits: dict. `{split: tf.data.Dataset}` of unbatched
            `(image, label)` pairs.
        sizes: dict. Examples per split (None where unknown).
        num_classes: int. Number of classes.
        max_label: int or None. The largest label seen (None where the
            source does not say).
        image_shape: tuple. `(height, width, channels)`; None entries where
            images vary in size.
        class_names: sequence of str or None. The class names.
        train_labels: array or None. The training split's labels, where
            known without reading the images. Defaults to `None`.
        files: dict or None. `{split: tuple of paths}` of an image folder,
            in the order of its splits. Defaults to `None`.
    """

    source: str
    splits: dict
    sizes: dict
    num_classes: int
    max_label: int
    image_shape: tuple
    class_names: object = None
    train_labels: object = None
    files: dict = None


def load_source(dataset, options):
    """Reads `dataset` into a `SourceData`.

    Args:
        dataset: str, tuple or dict. See `load_data`.
        options: `SourceOptions`. How to read it.
    """
    if isinstance(dataset, dict):
        return _array_source(dataset, options)
    if isinstance(dataset, tuple):
        return _array_source({"train": dataset}, options)
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if not isinstance(dataset, str):
        raise TypeError(
            "`dataset` must be a name, a directory, an (images, labels) tuple "
            f"or a dict of splits; received {type(dataset).__name__}."
        )
    if dataset in EMBEDDED_DATASETS:
        arrays = load_digits_arrays()
        return _array_source(
            arrays,
            dataclasses.replace(options, class_names=DIGITS_CLASS_NAMES),
            source=dataset,
        )
    if os.path.isdir(dataset):
        return _directory_source(dataset, options)
    if os.sep in dataset or dataset.startswith("."):
        raise ValueError(f"`dataset` directory {dataset!r} does not exist.")
    name = dataset[len("tfds:") :] if dataset.startswith("tfds:") else dataset
    if name == fashion_mnist.TFDS_NAME:
        return _fashion_mnist_source(options)
    return _tfds_source(name, options)


def _array_source(splits, options, source="arrays"):
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    unknown = set(splits) - {"train", "validation", "test"}
    if unknown or "train" not in splits:
        raise ValueError(
            "Array data must be an (images, labels) tuple or a dict with a "
            "'train' key and optional 'validation' and 'test' keys; received "
            f"keys {sorted(splits)}."
        )
    arrays = {}
    for name, pair in splits.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(
                f"Split {name!r} must be an (images, labels) pair; received "
                f"{type(pair).__name__}."
            )
        images, labels = _checked_arrays(name, pair)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                f"Split {name!r} images must have shape (n, height, width, "
                f"channels) with 1 or 3 channels; received {images.shape}."
            )
        labels = _class_indices(name, labels, len(images))
        if len(labels) != len(images):
            raise ValueError(
                f"Split {name!r} has {len(images)} images but {len(labels)} labels."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"Split {name!r} `labels` must be non-negative integers; "
                f"received dtype {labels.dtype} (e.g. {labels[:3].tolist()})."
            )
        if labels.min() < 0 or labels.max() > np.iinfo("int32").max:
            raise ValueError(
                f"Split {name!r} `labels` must be class indices in [0, "
                f"{np.iinfo('int32').max}]; received labels from {labels.min()} "
                f"to {labels.max()}."
            )
        arrays[name] = (images, labels.astype("int32"))
    if "validation" not in arrays and options.validation_fraction > 0:
        images, labels = arrays["train"]
        order = np.random.default_rng(options.seed).permutation(len(labels))
        held = int(round(len(labels) * options.validation_fraction))
        arrays["validation"] = (images[order[:held]], labels[order[:held]])
        arrays["train"] = (images[order[held:]], labels[order[held:]])
    max_label = int(max(labels.max() for _, labels in arrays.values()))
    names = options.class_names
    return SourceData(
        source=source,
        splits={
            name: tf.data.Dataset.from_tensor_slices(pair)
            for name, pair in arrays.items()
        },
        sizes={name: len(pair[1]) for name, pair in arrays.items()},
        num_classes=len(names) if names else max_label + 1,
        max_label=max_label,
        image_shape=arrays["train"][0].shape[1:],
        class_names=names,
        train_labels=arrays["train"][1],
    )


def _class_indices(name, labels, count):
    """`labels` as a vector of class indices: as they are, or the index of
    the 1 in each row of one-hot labels `(count, classes)`."""
    if labels.ndim == 2 and labels.shape[0] == count and labels.shape[1] > 1:
        one_hot = np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all()
        if not one_hot:
            raise ValueError(
                f"Split {name!r} `labels` has shape {labels.shape}: pass one "
                "class index per image (shape (n,)), or one-hot rows (a single "
                "1 per row)."
            )
        return np.argmax(labels, axis=1)
    return labels.reshape(-1)


def _checked_arrays(name, pair):
    """The (images, labels) of split `name` as arrays: numeric, not empty,
    and without NaN or infinite pixels."""
    try:
        images = np.asarray(pair[0])
    except ValueError as error:
        raise ValueError(f"Split {name!r} `images` is not an array: {error}") from None
    labels = np.asarray(pair[1])
    if images.size == 0 or labels.size == 0:
        raise ValueError(
            f"Split {name!r} is empty: `images` has shape {images.shape} and "
            f"`labels` {labels.shape}; every split needs at least one image."
        )
    if images.dtype.kind not in "buif":
        raise ValueError(
            f"Split {name!r} `images` must be numeric pixels; received dtype "
            f"{images.dtype}."
        )
    if images.dtype.kind in "iu" and images.dtype.itemsize > 1:
        low, high = int(images.min()), int(images.max())
        if low < 0 or high > 255:  # 16-bit images are not 0-255 pixels
            raise ValueError(
                f"Split {name!r} `images` has dtype {images.dtype} with values "
                f"in [{low}, {high}]; pixels are read as 0-255. Scale them "
                "first (e.g. 16-bit images: (images // 257).astype('uint8'))."
            )
    if images.dtype.kind == "f":
        finite = np.isfinite(images).reshape(len(images), -1).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"Split {name!r} `images` has {len(bad)} image(s) with NaN or "
                f"infinite pixels, the first at index {bad[0]}; clean or drop "
                "them."
            )
    return images, labels


def _fashion_mnist_source(options):
    """Fashion-MNIST through TFDS's builder, prepared offline from the local
    IDX files (see `keras_residual.data.fashion_mnist`); the validation
    split is held out of the 60,000 training images with `seed`."""
    arrays = fashion_mnist.load_arrays(options.data_dir, options.download)
    return _array_source(
        arrays,
        dataclasses.replace(options, class_names=fashion_mnist.CLASS_NAMES),
        source=fashion_mnist.TFDS_NAME,
    )


def _directory_source(directory, options):
    source = directory
    scan = checked_folder(directory, options.skip_bad_images)
    color_mode = options.color_mode
    if color_mode == "auto":
        color_mode = "grayscale" if scan.grey else "rgb"
    channels = 1 if color_mode == "grayscale" else 3
    # `train()` passes the weights' size as `image_size` when the user gave
    # none: the message names where it came from.
    if options.image_size not in (None, options.default_size):
        size, why = options.image_size, "image_size"
    elif options.default_size is not None:
        size, why = options.default_size, "the model's or weights' size"
    elif scan.size is not None:
        size, why = scan.size, "the images' own size"
    else:
        raise ValueError(
            f"The images of {directory!r} vary in size; pass `image_size` "
            "(e.g. 224, or --image-size 224) to resize them."
        )
    files, class_names, how = split_files(
        scan.root, options.validation_fraction, options.test_fraction, options.seed
    )
    if "train" not in files:
        raise ValueError(
            f"`dataset` {directory!r} has no training images: it needs class "
            "sub-folders of images (or train/ with class sub-folders)."
        )
    sizes = {split: len(paths) for split, (paths, _) in files.items()}
    print(
        f"Image folder {directory}: {sum(sizes.values())} images in "
        f"{len(class_names)} classes, {color_mode}; {how}: "
        + "/".join(str(n) for n in sizes.values())
        + f"; resized to {size[0]}x{size[1]} ({why}).",
        flush=True,
    )
    return SourceData(
        source=source,
        splits={
            split: files_dataset(paths, labels, size, channels)
            for split, (paths, labels) in files.items()
        },
        sizes=sizes,
        num_classes=len(class_names),
        max_label=len(class_names) - 1,
        image_shape=tuple(size) + (channels,),
        class_names=class_names,
        train_labels=files["train"][1],
        files={split: tuple(paths) for split, (paths, _) in files.items()},
    )


def _tfds_source(name, options):
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    try:
        builder = tfds.builder(name, data_dir=options.data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(unknown_dataset_message(name)) from None
    info = builder.info
    available = set(info.splits)
    percent = int(round(100 * options.validation_fraction))
    wanted = {"train": "train"}
    if "validation" in available:
        wanted["validation"] = "validation"
    elif percent:
        wanted["train"] = f"train[:{100 - percent}%]"
        wanted["validation"] = f"train[{100 - percent}%:]"
    if "test" in available or not available:
        wanted["test"] = "test"
    try:
        loaded = tfds.load(
            name,
            split=list(wanted.values()),
            data_dir=options.data_dir,
            download=options.download,
            as_supervised=True,
        )
    except AssertionError as error:
        if "could not find data" not in str(error):
            raise
        raise ValueError(
            f"TFDS dataset {name!r} is not prepared in data_dir="
            f"{options.data_dir or tfds.core.constants.DATA_DIR!r}. Prepare "
            f"it on a machine with network (`tfds build {name} --data_dir "
            f"DIR`), then pass data_dir=DIR (`--data-dir DIR`); or pass "
            "download=True (`--download`) to let TFDS fetch it now."
        ) from None
    label = info.features["label"]
    image_shape = tuple(info.features["image"].shape)
    sizes = {}
    for split, spec in wanted.items():
        try:
            sizes[split] = int(info.splits[spec].num_examples)
        except (KeyError, ValueError, TypeError):
            sizes[split] = None
    return SourceData(
        source=f"tfds:{name}",
        splits=dict(zip(wanted, loaded)),
        sizes=sizes,
        num_classes=label.num_classes,
        max_label=None,
        image_shape=image_shape,
        class_names=getattr(label, "names", None),
    )


def unknown_dataset_message(name):
    """An error message for a dataset name that is neither embedded nor in
    TFDS: the embedded names, close matches and how to use TFDS.

    Args:
        name: str. The unknown name.
    """
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    candidates = list(EMBEDDED_DATASETS) + list(tfds.list_builders())
    matches = close_matches(name, candidates)
    hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return (
        f"Unknown `dataset` {name!r}.{hint} Embedded datasets (offline): "
        f"{', '.join(EMBEDDED_DATASETS)}; 'fashion_mnist' reads local files "
        f"(`{fashion_mnist.INSTALL_HINT}`). Otherwise pass a TFDS name such as "
        "'cifar10' (see `tfds.list_builders()`, prepared with `tfds build "
        "NAME --data_dir DIR`), a directory of class sub-folders, or "
        "(images, labels) arrays."
    )
