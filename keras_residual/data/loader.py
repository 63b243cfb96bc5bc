"""`load_data()`: one call from the embedded digits, NumPy arrays, an image
directory or a TFDS dataset to batched train/validation/test pipelines."""

from keras_residual.core.limits import check_classes
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import check_channels
from keras_residual.data.audio_folder import is_audio_folder
from keras_residual.data.audio_loader import AUDIO_DATASETS
from keras_residual.data.audio_loader import load_audio_data
from keras_residual.data.augmentation import get_augmentation
from keras_residual.data.balance import count_classes
from keras_residual.data.bundle import DataBundle
from keras_residual.data.load_options import LoadOptions
from keras_residual.data.load_options import image_size_pair
from keras_residual.data.pipeline import Pipeline
from keras_residual.data.pipeline import new_epoch_clock
from keras_residual.data.sources import load_source
from keras_residual.utils.deprecation import renamed_argument
from keras_residual.utils.options import options_argument


def is_audio_dataset(dataset):
    """Whether `load_data(dataset)` reads audio: `"spoken_digit"` or a
    folder of WAV files.

    Args:
        dataset: object. What `load_data` is given.
    """
    return (isinstance(dataset, str) and dataset in AUDIO_DATASETS) or (
        is_audio_folder(dataset)
    )


def load_data(dataset="digits", options=None, **fields):
    """Builds train/validation/test `tf.data` pipelines.

    Args:
        dataset: str, tuple or dict. `"digits"` (embedded),
            `"fashion_mnist"` (offline from the IDX files of Debian's
            `dataset-fashion-mnist`, a data folder or the Keras cache,
            checked and prepared by TFDS; see
            `keras_residual.data.fashion_mnist`), `"spoken_digit"`
            (recorded speech, 8 kHz clips; see
            `keras_residual.data.audio_loader`), a TFDS name (or
            `"tfds:NAME"`), a directory of class sub-folders of images or of
            WAV files (or one with `train/`, `validation/`, `test/`), an
            `(images, labels)` tuple, or
            `{"train": (x, y), "validation": ..., "test": ...}`. Defaults to
            `"digits"`.
        options: `LoadOptions` or None. Batch size, image size,
            augmentation, splits, labels, ... Defaults to `LoadOptions()`.
        **fields: any field of `LoadOptions` by name, as in
            `load_data("digits", batch_size=64)`; it overrides the field of
            `options`. (`num_classes`, the 0.1 name of `classes`, warns.)

    Returns:
        A `DataBundle`.
    """
    if "num_classes" in fields:
        fields["classes"] = renamed_argument(
            "load_data", "num_classes", "classes", fields.pop("num_classes"),
            fields.get("classes"),
        )  # fmt: skip
    options = options_argument("load_data", LoadOptions, options, fields)
    options.check()
    if is_audio_dataset(dataset):
        return load_audio_data(dataset, options)
    augmentation = get_augmentation(options.augmentation)
    raw = load_source(dataset, options.source_options())
    classes = _resolve_classes(raw, options.classes)
    augment = options.augment
    if augment == "auto":
        augment = "crop" if raw.source == "digits" else "crop_flip"
    pipe = Pipeline(
        batch_size=options.batch_size,
        size=image_size_pair(options.image_size),
        augment=augment,
        seed=options.seed,
        cache=options.cache,
        label_mode=options.label_mode,
        num_classes=classes,
        mixup_alpha=options.mixup_alpha,
        cutmix_alpha=options.cutmix_alpha,
        uniform=options.uniform_batches,
        preprocessing=as_preprocessing(options.preprocessing),
        augmentation=augmentation,
        epoch_clock=new_epoch_clock() if options.epoch_seeded else None,
    )
    return _bundle(raw, pipe, options, classes)


def _image_shape(raw, options):
    """The images' shape after resizing, refused where it varies or does
    not suit the preprocessing."""
    size, image_shape = image_size_pair(options.image_size), raw.image_shape
    if size is not None:
        image_shape = size + image_shape[2:]
    if None in image_shape:
        raise ValueError(
            f"{raw.source} has images of varying size {image_shape}; pass "
            "`image_size` (e.g. 224 or --image-size 224) to resize them."
        )
    check_channels(options.preprocessing, image_shape[-1], raw.source)
    return tuple(image_shape)


def _bundle(raw, pipe, options, classes):
    """The `DataBundle` of a read source's splits through `pipe`."""
    image_shape = _image_shape(raw, options)
    splits, sizes, balanced = raw.splits, raw.sizes, options.sampler == "balanced"
    counts = None  # labels known up front are counted now; a TFDS split's when needed
    if raw.train_labels is not None or balanced:
        labels = splits["train"] if raw.train_labels is None else raw.train_labels
        counts = count_classes(labels, classes)
    return DataBundle(
        train=pipe(
            splits["train"], training=True, class_counts=counts if balanced else None
        ),
        validation=pipe(
            splits.get("validation"), training=False, size=sizes.get("validation")
        ),
        test=pipe(splits.get("test"), training=False, size=sizes.get("test")),
        classes=classes,
        image_shape=image_shape,
        class_names=tuple(raw.class_names or (str(i) for i in range(classes))),
        sizes=sizes,
        batch_size=options.batch_size,
        source=raw.source,
        preprocessing=pipe.preprocessing,
        augment=pipe.augment,
        augmentation=pipe.augmentation,
        uniform_batches=options.uniform_batches,
        sampler=options.sampler,
        class_counts=counts,
        uncounted_train=splits["train"] if counts is None else None,
        epoch_clock=pipe.epoch_clock,
        train_in_order=pipe(splits["train"], training=False, size=sizes.get("train")),
        files=raw.files,
    )


def _resolve_classes(raw, classes):
    """The number of classes: `classes`, which must cover every label, or
    the source's (at least 2)."""
    if classes is None:
        classes = raw.num_classes
        if raw.max_label is not None and raw.max_label >= classes:
            raise ValueError(
                f"`class_names` names {classes} classes but the labels go "
                f"up to {raw.max_label}; give one name per class "
                f"({raw.max_label + 1} names)."
            )
        if classes < 2:
            raise ValueError(
                f"`dataset` {raw.source!r} has {classes} class(es)"
                + (f" ({list(raw.class_names)})" if raw.class_names else "")
                + "; a classifier needs at least 2 (one folder, or one label "
                "value, per class)."
            )
    elif raw.max_label is not None and raw.max_label >= classes:
        raise ValueError(
            f"Labels out of range: the data has label {raw.max_label} but "
            f"`classes` is {classes}; labels must lie in "
            f"[0, {classes - 1}]. Use classes >= {raw.max_label + 1}."
        )
    elif raw.num_classes > classes:
        raise ValueError(
            f"Labels out of range: {raw.source} has {raw.num_classes} "
            f"classes but `classes` is {classes}."
        )
    return check_classes(classes, "classes (the largest label + 1)")
