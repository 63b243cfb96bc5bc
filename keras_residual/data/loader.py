"""`load_data()`: one call from the embedded digits, NumPy arrays, an image
directory or a TFDS dataset to batched train/validation/test pipelines."""

from keras_residual.core.limits import check_classes
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.data.augmentation import get_augmentation
from keras_residual.data.balance import check_sampler
from keras_residual.data.balance import count_classes
from keras_residual.data.bundle import DataBundle
from keras_residual.data.pipeline import Pipeline
from keras_residual.data.pipeline import new_epoch_clock
from keras_residual.data.sources import SourceOptions
from keras_residual.data.sources import load_source
from keras_residual.utils.deprecation import renamed_argument
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int

AUGMENTATIONS = ("auto", "none", "crop", "crop_flip")
LABEL_MODES = ("sparse", "categorical")
COLOR_MODES = ("auto", "rgb", "grayscale")


# Larger ones took minutes per batch (or hung) before failing for memory.
MAX_IMAGE_SIDE, MAX_BATCH_SIZE = 8192, 65536


def load_data(
    dataset="digits",
    *,
    batch_size=128,
    image_size=None,
    augment="auto",
    validation_fraction=0.1,
    data_dir=None,
    download=False,
    seed=0,
    cache=True,
    label_mode="sparse",
    classes=None,
    mixup_alpha=0.0,
    cutmix_alpha=0.0,
    class_names=None,
    uniform_batches=False,
    preprocessing="tf",
    skip_bad_images=False,
    color_mode="auto",
    test_fraction=0.1,
    default_image_size=None,
    num_classes=None,
    augmentation=None,
    sampler="shuffle",
    epoch_seeded=False,
):
    """Builds train/validation/test `tf.data` pipelines.

    Args:
        dataset: str, tuple or dict. `"digits"` (embedded),
            `"fashion_mnist"` (offline from the IDX files of Debian's
            `dataset-fashion-mnist`, a data folder or the Keras cache,
            checked and prepared by TFDS; see
            `keras_residual.data.fashion_mnist`), a TFDS name (or
            `"tfds:NAME"`), a directory of class sub-folders (or one with
            `train/`, `validation/`, `test/`), an `(images, labels)` tuple, or
            `{"train": (x, y), "validation": ..., "test": ...}`. Defaults to
            `"digits"`.
        batch_size: int. Global batch size. Defaults to `128`.
        image_size: int, tuple or None. Resize images to this size. Defaults
            to the source's size (for an image folder: `default_image_size`,
            else its images' common size).
        augment: str. `"auto"` (crop for digits, crop and flip otherwise),
            `"none"`, `"crop"` or `"crop_flip"`. Defaults to `"auto"`.
        validation_fraction: float. Share of the training data held out for
            validation where the source has no validation split (for a flat
            image folder, of each class). Defaults to `0.1`.
        data_dir: str or None. TFDS data directory, also searched for
            Fashion-MNIST's IDX files. Defaults to TFDS's.
        download: bool. Let TFDS download and prepare missing data. Defaults
            to `False`, so that a missing dataset fails at once.
        seed: int. Shuffle and augmentation seed. Defaults to `0`.
        cache: bool or str. Cache decoded images in memory (`True`) or in a
            file. Defaults to `True`.
        label_mode: str. `"sparse"` integer labels or `"categorical"`
            one-hot labels. Defaults to `"sparse"`.
        classes: int or None. Classes; must cover every label. Defaults
            to the source's.
        mixup_alpha: float. MixUp on training batches when > 0 (needs
            `label_mode="categorical"`). Defaults to `0`.
        cutmix_alpha: float. CutMix on training batches when > 0 (needs
            `label_mode="categorical"`). Defaults to `0`.
        class_names: sequence of str or None. Names for array sources.
        uniform_batches: bool. Make every batch full-size, as multi-process
            data parallelism needs: training drops its last partial batch,
            and validation/test pad theirs with zero-weight examples, which
            yield `(images, labels, weights)` so that weighted metrics and a
            `"mean_with_sample_weight"` loss stay exact. Defaults to `False`.
        preprocessing: str. How images are scaled for the model: `"tf"`
            ([-1, 1]), `"caffe"` or `"torch"` (keras.applications' modes;
            pass the mode of the weights you fine-tune). Defaults to `"tf"`.
        skip_bad_images: bool. For an image folder: leave out the files
            that cannot be decoded (they are counted and reported) instead
            of refusing the folder, naming each. Defaults to `False`.
        color_mode: str. An image folder's channels: `"auto"` (grey when
            every image is grey, else RGB), `"rgb"` or `"grayscale"`.
            Defaults to `"auto"`.
        test_fraction: float. Share of each class of a flat image folder
            (one without train/ val/ test/ sub-folders) held out for
            testing, with `seed`. Defaults to `0.1`.
        default_image_size: int, tuple or None. An image folder's size when
            `image_size` is None (`train` passes the weights' or the model's
            size). Defaults to `None`: the images' own size, where they all
            share one.
        num_classes: int or None. The 0.1 name of `classes`; warns.
        augmentation: str, dict, `Augmentation` or None. Training
            augmentation beyond crop and flip: a preset (`"grey"`,
            `"photo"`; see `AUGMENTATION_PRESETS`) or its fields
            (RandAugment, rotation, colour jitter, random erasing).
            Defaults to `None` (none).
        sampler: str. `"shuffle"`, or `"balanced"`: every class drawn
            equally often in training (minority classes repeat; an epoch
            keeps the split's size). Defaults to `"shuffle"`.
        epoch_seeded: bool. Draw each training epoch's order from
            `(seed, epoch)` (the epoch set by an `EpochClock` callback; see
            `DataBundle.epoch_clock`), not from the epochs served so far, so
            a resumed run sees the batches an uninterrupted one would.
            `train(deterministic=True)` sets it. Defaults to `False`.

    Returns:
        A `DataBundle`.
    """
    num_classes = renamed_argument(
        "load_data", "num_classes", "classes", num_classes, classes
    )
    _check_arguments(
        batch_size=batch_size,
        augment=augment,
        label_mode=label_mode,
        preprocessing=preprocessing,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        color_mode=color_mode,
        mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha,
        classes=num_classes,
    )
    size = _image_size(image_size)
    augmentation = get_augmentation(augmentation)
    check_sampler(sampler)

    raw = load_source(
        dataset,
        SourceOptions(
            data_dir=data_dir,
            download=download,
            validation_fraction=validation_fraction,
            seed=seed,
            image_size=size,
            class_names=class_names,
            skip_bad_images=skip_bad_images,
            color_mode=color_mode,
            test_fraction=test_fraction,
            default_size=_image_size(default_image_size),
        ),
    )
    num_classes = _resolve_classes(raw, num_classes)
    if augment == "auto":
        augment = "crop" if raw.source == "digits" else "crop_flip"
    image_shape = raw.image_shape
    if size is not None:
        image_shape = size + image_shape[2:]
    if None in image_shape:
        raise ValueError(
            f"{raw.source} has images of varying size {image_shape}; pass "
            "`image_size` (e.g. 224 or --image-size 224) to resize them."
        )
    if preprocessing in ("caffe", "torch") and image_shape[-1] != 3:
        raise ValueError(
            f"`preprocessing={preprocessing!r}` scales RGB images, and "
            f"{raw.source} has {image_shape[-1]} channel(s); use "
            "preprocessing='tf' for grey or multi-channel images."
        )

    pipe = Pipeline(
        batch_size=batch_size,
        size=size,
        augment=augment,
        seed=seed,
        cache=cache,
        label_mode=label_mode,
        num_classes=num_classes,
        mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha,
        uniform=uniform_batches,
        preprocessing=preprocessing,
        augmentation=augmentation,
        epoch_clock=new_epoch_clock() if epoch_seeded else None,
    )
    splits, sizes = raw.splits, raw.sizes
    counts = None  # labels known up front are counted now; a TFDS split's when needed
    if raw.train_labels is not None or sampler == "balanced":
        labels = splits["train"] if raw.train_labels is None else raw.train_labels
        counts = count_classes(labels, num_classes)
    return DataBundle(
        train=pipe(
            splits["train"],
            training=True,
            class_counts=counts if sampler == "balanced" else None,
        ),
        validation=pipe(
            splits.get("validation"), training=False, size=sizes.get("validation")
        ),
        test=pipe(splits.get("test"), training=False, size=sizes.get("test")),
        classes=num_classes,
        image_shape=tuple(image_shape),
        class_names=tuple(raw.class_names or (str(i) for i in range(num_classes))),
        sizes=sizes,
        batch_size=batch_size,
        source=raw.source,
        preprocessing=preprocessing,
        augment=augment,
        augmentation=augmentation,
        uniform_batches=uniform_batches,
        sampler=sampler,
        class_counts=counts,
        uncounted_train=splits["train"] if counts is None else None,
        epoch_clock=pipe.epoch_clock,
        train_in_order=pipe(splits["train"], training=False, size=sizes.get("train")),
        files=raw.files,
    )


def _check_arguments(
    *,
    batch_size,
    augment,
    label_mode,
    preprocessing,
    validation_fraction,
    test_fraction,
    color_mode,
    mixup_alpha,
    cutmix_alpha,
    classes,
):
    """Refuses bad `load_data` arguments before any data is read."""
    check_int("batch_size", batch_size, minimum=1, maximum=MAX_BATCH_SIZE)
    check_choice("augment", augment, AUGMENTATIONS)
    check_choice("label_mode", label_mode, LABEL_MODES)
    check_choice("preprocessing", preprocessing, PREPROCESSING_MODES)
    check_float("validation_fraction", validation_fraction, minimum=0.0, maximum=0.9)
    check_float("test_fraction", test_fraction, minimum=0.0, maximum=0.9)
    check_choice("color_mode", color_mode, COLOR_MODES)
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"`validation_fraction` ({validation_fraction}) and `test_fraction` "
            f"({test_fraction}) together must leave training data (sum < 1)."
        )
    for argument, value in (
        ("mixup_alpha", mixup_alpha),
        ("cutmix_alpha", cutmix_alpha),
    ):
        check_float(argument, value, minimum=0.0)
        if value > 0 and label_mode != "categorical":
            raise ValueError(
                f"`{argument}={value}` mixes labels, which needs "
                "`label_mode='categorical'`; received "
                f"label_mode={label_mode!r}."
            )
    if classes is not None:
        check_int("classes", classes, minimum=2)


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


def _image_size(image_size):
    if image_size is None:
        return None
    received = image_size
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(v, int) and 8 <= v <= MAX_IMAGE_SIDE for v in image_size)
    ):
        raise ValueError(
            "`image_size` must be an int or a (height, width) pair of ints "
            f"in [8, {MAX_IMAGE_SIDE}]; received {received!r}."
        )
    return tuple(image_size)
