"""Input pipelines: one `load_data()` for the embedded digits, NumPy arrays,
image directories and any TFDS dataset.

Every source ends in the same `tf.data` pipeline: cache, shuffle, augment
(pad-and-crop, plus flips for natural images), scale to `[-1, 1]`, batch,
optional MixUp/CutMix, `prefetch(AUTOTUNE)`.
"""

import dataclasses
import os
from importlib import resources

import numpy as np

from keras_residual.validation import check_choice
from keras_residual.validation import check_float
from keras_residual.validation import check_int
from keras_residual.validation import close_matches

EMBEDDED_DATASETS = {
    "digits": (
        "1,797 real handwritten digits (UCI optdigits test set, as shipped "
        "by scikit-learn), 8x8 upscaled to 32x32 grey; split 1,259 train / "
        "179 validation / 359 test."
    ),
}
AUGMENTATIONS = ("auto", "none", "crop", "crop_flip")
LABEL_MODES = ("sparse", "categorical")
DIGITS_SIZE = 32
DIGITS_CLASS_NAMES = tuple(str(i) for i in range(10))


@dataclasses.dataclass
class DataBundle:
    """The pipelines and facts a training run needs.

    Args:
        train: `tf.data.Dataset`. Shuffled, augmented, batched training data.
        validation: `tf.data.Dataset` or None. Batched, not augmented.
        test: `tf.data.Dataset` or None. Batched, not augmented.
        num_classes: int. Number of classes.
        image_shape: tuple. `(height, width, channels)` fed to the model.
        class_names: tuple of str. Names of the classes.
        sizes: dict. Number of examples per split (None where unknown).
        batch_size: int. Global batch size.
        source: str. Where the data came from.
        preprocessing: str. The `preprocess_input` mode applied (`"tf"`).
        augment: str. The augmentation applied to `train`.
    """

    train: object
    validation: object
    test: object
    num_classes: int
    image_shape: tuple
    class_names: tuple
    sizes: dict
    batch_size: int
    source: str
    preprocessing: str = "tf"
    augment: str = "none"
    uniform_batches: bool = False

    @property
    def steps_per_epoch(self):
        """Training batches per epoch, or None when the size is unknown."""
        size = self.sizes.get("train")
        if size is None:
            return None
        if self.uniform_batches:
            return max(size // self.batch_size, 1)
        return -(-size // self.batch_size)


def load_digits_arrays():
    """Returns the embedded digits as `{split: (images, labels)}`.

    Images are float32 `(n, 32, 32, 1)` in `[0, 255]`: the 8x8, 17-level
    originals scaled to 0..255 and resized bilinearly to 32x32. The split
    is fixed (stratified, seed 1797; see `examples/make_digits.py`).
    """
    import tensorflow as tf

    with resources.files("keras_residual").joinpath(
            "data/digits.npz").open("rb") as handle:
        archive = np.load(handle)
        images, labels, split = (archive["images"], archive["labels"],
                                 archive["split"])
    images = images.astype("float32")[..., None] * (255.0 / 16.0)
    images = tf.image.resize(images, (DIGITS_SIZE, DIGITS_SIZE),
                             method="bilinear").numpy()
    images = np.clip(images, 0.0, 255.0)
    return {
        name: (images[split == index], labels[split == index].astype("int32"))
        for index, name in enumerate(("train", "validation", "test"))
    }


def load_data(dataset="digits", *, batch_size=128, image_size=None,
              augment="auto", validation_fraction=0.1, data_dir=None,
              download=False, seed=0, cache=True, label_mode="sparse",
              num_classes=None, mixup_alpha=0.0, cutmix_alpha=0.0,
              class_names=None, uniform_batches=False):
    """Builds train/validation/test `tf.data` pipelines.

    Args:
        dataset: str, tuple or dict. `"digits"` (embedded), a TFDS name (or
            `"tfds:NAME"`), a directory of class sub-folders (or one with
            `train/`, `validation/`, `test/`), an `(images, labels)` tuple, or
            `{"train": (x, y), "validation": ..., "test": ...}`. Defaults to
            `"digits"`.
        batch_size: int. Global batch size. Defaults to `128`.
        image_size: int, tuple or None. Resize images to this size. Defaults
            to the source's size.
        augment: str. `"auto"` (crop for digits, crop and flip otherwise),
            `"none"`, `"crop"` or `"crop_flip"`. Defaults to `"auto"`.
        validation_fraction: float. Share of the training data held out for
            validation where the source has no validation split. Defaults
            to `0.1`.
        data_dir: str or None. TFDS data directory. Defaults to TFDS's.
        download: bool. Let TFDS download and prepare missing data. Defaults
            to `False`, so that a missing dataset fails at once.
        seed: int. Shuffle and augmentation seed. Defaults to `0`.
        cache: bool or str. Cache decoded images in memory (`True`) or in a
            file. Defaults to `True`.
        label_mode: str. `"sparse"` integer labels or `"categorical"`
            one-hot labels. Defaults to `"sparse"`.
        num_classes: int or None. Classes; must cover every label. Defaults
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

    Returns:
        A `DataBundle`.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_choice("augment", augment, AUGMENTATIONS)
    check_choice("label_mode", label_mode, LABEL_MODES)
    check_float("validation_fraction", validation_fraction, minimum=0.0,
                maximum=0.9)
    for argument, value in (("mixup_alpha", mixup_alpha),
                            ("cutmix_alpha", cutmix_alpha)):
        check_float(argument, value, minimum=0.0)
        if value > 0 and label_mode != "categorical":
            raise ValueError(
                f"`{argument}={value}` mixes labels, which needs "
                "`label_mode='categorical'`; received "
                f"label_mode={label_mode!r}.")
    if num_classes is not None:
        check_int("num_classes", num_classes, minimum=2)
    size = _image_size(image_size)

    raw = _load_source(dataset, data_dir=data_dir, download=download,
                       validation_fraction=validation_fraction, seed=seed,
                       image_size=size, class_names=class_names)
    if num_classes is None:
        num_classes = raw["num_classes"]
    elif raw["max_label"] is not None and raw["max_label"] >= num_classes:
        raise ValueError(
            f"Labels out of range: the data has label {raw['max_label']} but "
            f"`num_classes`/`classes` is {num_classes}; labels must lie in "
            f"[0, {num_classes - 1}]. Use classes >= {raw['max_label'] + 1}.")
    elif raw["num_classes"] > num_classes:
        raise ValueError(
            f"Labels out of range: {raw['source']} has {raw['num_classes']} "
            f"classes but `num_classes`/`classes` is {num_classes}.")
    if augment == "auto":
        augment = "crop" if raw["source"] == "digits" else "crop_flip"
    image_shape = raw["image_shape"]
    if size is not None:
        image_shape = size + image_shape[2:]
    if None in image_shape:
        raise ValueError(
            f"{raw['source']} has images of varying size {image_shape}; pass "
            "`image_size` (e.g. 224 or --image-size 224) to resize them.")

    pipe = _Pipeline(batch_size=batch_size, size=size, augment=augment,
                     seed=seed, cache=cache, label_mode=label_mode,
                     num_classes=num_classes, mixup_alpha=mixup_alpha,
                     cutmix_alpha=cutmix_alpha, uniform=uniform_batches)
    splits, sizes = raw["splits"], raw["sizes"]
    return DataBundle(
        train=pipe(splits["train"], training=True),
        validation=pipe(splits.get("validation"), training=False,
                        size=sizes.get("validation")),
        test=pipe(splits.get("test"), training=False, size=sizes.get("test")),
        num_classes=num_classes,
        image_shape=tuple(image_shape),
        class_names=tuple(raw["class_names"] or
                          (str(i) for i in range(num_classes))),
        sizes=sizes,
        batch_size=batch_size,
        source=raw["source"],
        augment=augment,
        uniform_batches=uniform_batches,
    )


def _image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(v, int) and v >= 8 for v in image_size)):
        raise ValueError(
            "`image_size` must be an int or a (height, width) pair of ints "
            f">= 8; received {image_size!r}.")
    return tuple(image_size)


def _load_source(dataset, **options):
    if isinstance(dataset, dict):
        return _array_source(dataset, options)
    if isinstance(dataset, tuple):
        return _array_source({"train": dataset}, options)
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if not isinstance(dataset, str):
        raise TypeError(
            "`dataset` must be a name, a directory, an (images, labels) tuple "
            f"or a dict of splits; received {type(dataset).__name__}.")
    if dataset in EMBEDDED_DATASETS:
        arrays = load_digits_arrays()
        return _array_source(arrays, dict(options, class_names=DIGITS_CLASS_NAMES),
                             source=dataset)
    if os.path.isdir(dataset):
        return _directory_source(dataset, options)
    if os.sep in dataset or dataset.startswith("."):
        raise ValueError(
            f"`dataset` directory {dataset!r} does not exist.")
    name = dataset[len("tfds:"):] if dataset.startswith("tfds:") else dataset
    return _tfds_source(name, options)


def _array_source(splits, options, source="arrays"):
    import tensorflow as tf

    unknown = set(splits) - {"train", "validation", "test"}
    if unknown or "train" not in splits:
        raise ValueError(
            "Array data must be an (images, labels) tuple or a dict with a "
            "'train' key and optional 'validation' and 'test' keys; received "
            f"keys {sorted(splits)}.")
    arrays = {}
    for name, pair in splits.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(
                f"Split {name!r} must be an (images, labels) pair; received "
                f"{type(pair).__name__}.")
        images, labels = np.asarray(pair[0]), np.asarray(pair[1])
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                f"Split {name!r} images must have shape (n, height, width, "
                f"channels) with 1 or 3 channels; received {images.shape}.")
        labels = labels.reshape(-1)
        if len(labels) != len(images):
            raise ValueError(
                f"Split {name!r} has {len(images)} images but {len(labels)} "
                "labels.")
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise ValueError(
                f"Split {name!r} labels must be non-negative integers; "
                f"received dtype {labels.dtype}, minimum {labels.min()}.")
        arrays[name] = (images, labels.astype("int32"))
    if "validation" not in arrays and options["validation_fraction"] > 0:
        images, labels = arrays["train"]
        order = np.random.default_rng(options["seed"]).permutation(len(labels))
        held = int(round(len(labels) * options["validation_fraction"]))
        arrays["validation"] = (images[order[:held]], labels[order[:held]])
        arrays["train"] = (images[order[held:]], labels[order[held:]])
    max_label = int(max(labels.max() for _, labels in arrays.values()))
    names = options.get("class_names")
    return {
        "source": source,
        "splits": {name: tf.data.Dataset.from_tensor_slices(pair)
                   for name, pair in arrays.items()},
        "sizes": {name: len(pair[1]) for name, pair in arrays.items()},
        "num_classes": len(names) if names else max_label + 1,
        "max_label": max_label,
        "image_shape": arrays["train"][0].shape[1:],
        "class_names": names,
    }


def _directory_source(directory, options):
    import keras

    size = options["image_size"] or (256, 256)
    common = dict(image_size=size, batch_size=None, seed=options["seed"],
                  label_mode="int", shuffle=True)
    named = {split: os.path.join(directory, split)
             for split in ("train", "validation", "test")}
    if os.path.isdir(named["train"]):
        splits = {split: keras.utils.image_dataset_from_directory(path, **common)
                  for split, path in named.items() if os.path.isdir(path)}
    elif options["validation_fraction"] > 0:
        train, validation = keras.utils.image_dataset_from_directory(
            directory, validation_split=options["validation_fraction"],
            subset="both", **common)
        splits = {"train": train, "validation": validation}
    else:
        splits = {"train": keras.utils.image_dataset_from_directory(
            directory, **common)}
    class_names = splits["train"].class_names
    channels = splits["train"].element_spec[0].shape[-1]
    return {
        "source": directory,
        "splits": splits,
        "sizes": {name: int(ds.cardinality()) if ds.cardinality() >= 0 else None
                  for name, ds in splits.items()},
        "num_classes": len(class_names),
        "max_label": len(class_names) - 1,
        "image_shape": tuple(size) + (channels,),
        "class_names": class_names,
    }


def _tfds_source(name, options):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=options["data_dir"])
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(unknown_dataset_message(name)) from None
    info = builder.info
    available = set(info.splits)
    percent = int(round(100 * options["validation_fraction"]))
    wanted = {"train": "train"}
    if "validation" in available:
        wanted["validation"] = "validation"
    elif percent:
        wanted["train"] = f"train[:{100 - percent}%]"
        wanted["validation"] = f"train[{100 - percent}%:]"
    if "test" in available or not available:
        wanted["test"] = "test"
    try:
        loaded = tfds.load(name, split=list(wanted.values()),
                           data_dir=options["data_dir"],
                           download=options["download"], as_supervised=True)
    except AssertionError as error:
        if "could not find data" not in str(error):
            raise
        raise ValueError(
            f"TFDS dataset {name!r} is not prepared in data_dir="
            f"{options['data_dir'] or tfds.core.constants.DATA_DIR!r}. Prepare "
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
    return {
        "source": f"tfds:{name}",
        "splits": dict(zip(wanted, loaded)),
        "sizes": sizes,
        "num_classes": label.num_classes,
        "max_label": None,
        "image_shape": image_shape,
        "class_names": getattr(label, "names", None),
    }


def unknown_dataset_message(name):
    """An error message for a dataset name that is neither embedded nor in
    TFDS: the embedded names, close matches and how to use TFDS."""
    import tensorflow_datasets as tfds

    candidates = list(EMBEDDED_DATASETS) + list(tfds.list_builders())
    matches = close_matches(name, candidates)
    hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return (
        f"Unknown `dataset` {name!r}.{hint} Embedded datasets (offline): "
        f"{', '.join(EMBEDDED_DATASETS)}. Otherwise pass a TFDS name such as "
        "'cifar10' (see `tfds.list_builders()`, prepared with `tfds build "
        "NAME --data_dir DIR`), a directory of class sub-folders, or "
        "(images, labels) arrays.")


@dataclasses.dataclass
class _Pipeline:
    """Turns an unbatched `(image, label)` dataset into a training or
    evaluation pipeline."""

    batch_size: int
    size: tuple
    augment: str
    seed: int
    cache: object
    label_mode: str
    num_classes: int
    mixup_alpha: float
    cutmix_alpha: float
    uniform: bool = False

    def __call__(self, dataset, training, size=None):
        import tensorflow as tf

        if dataset is None:
            return None
        dataset = dataset.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
        if self.cache:
            dataset = (dataset.cache(self.cache) if isinstance(self.cache, str)
                       else dataset.cache())
        if training:
            dataset = dataset.shuffle(4096, seed=self.seed,
                                      reshuffle_each_iteration=True)
            if self.augment != "none":
                dataset = dataset.map(self._augment,
                                      num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(self._normalize,
                              num_parallel_calls=tf.data.AUTOTUNE)
        drop_remainder = False
        if self.uniform and training:
            drop_remainder = True
        elif self.uniform:
            dataset, drop_remainder = self._pad(dataset, size)
        dataset = dataset.batch(self.batch_size, drop_remainder=drop_remainder)
        mixer = self._mixer() if training else None
        if mixer is not None:
            dataset = dataset.map(mixer, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _decode(self, image, label):
        import tensorflow as tf

        image = tf.cast(image, tf.float32)
        if self.size is not None and tuple(image.shape[:2]) != self.size:
            image = tf.image.resize(image, self.size)
        label = tf.cast(tf.reshape(label, []), tf.int32)
        return image, label

    def _augment(self, image, label):
        import tensorflow as tf

        shape = tf.shape(image)
        pad = max(int(image.shape[0] or 32) // 8, 1)
        padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.random_crop(padded, shape)
        if self.augment == "crop_flip":
            image = tf.image.random_flip_left_right(image)
        return image, label

    def _normalize(self, image, label):
        import tensorflow as tf

        image = tf.cast(image, tf.float32) / 127.5 - 1.0
        if self.label_mode == "categorical":
            label = tf.one_hot(label, self.num_classes)
        return image, label

    def _pad(self, dataset, size):
        """Appends zero-weight copies of the first example so that `size`
        examples fill whole batches. Without a known size, the last partial
        batch is dropped instead."""
        if size is None:
            return dataset, True
        dataset = dataset.map(lambda image, label: (image, label, 1.0))
        missing = -size % self.batch_size
        if missing:
            filler = dataset.take(1).map(
                lambda image, label, weight: (image, label, 0.0))
            dataset = dataset.concatenate(filler.repeat(missing))
        return dataset, False

    def _mixer(self):
        import keras

        layers = []
        if self.mixup_alpha > 0:
            layers.append(keras.layers.MixUp(alpha=self.mixup_alpha,
                                             seed=self.seed, name="mixup"))
        if self.cutmix_alpha > 0:
            layers.append(keras.layers.CutMix(factor=self.cutmix_alpha,
                                              seed=self.seed, name="cutmix"))
        if not layers:
            return None

        def mix(images, labels):
            data = {"images": images, "labels": labels}
            for layer in layers:
                data = layer(data)
            return data["images"], data["labels"]

        return mix
