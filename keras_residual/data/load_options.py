"""`LoadOptions`: every argument of `load_data` but the dataset, each
written once as a documented field (see `keras_residual.utils.options`),
with the checks that refuse bad values before any data is read."""

from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.data.augmentation import AUGMENTATION_PRESETS
from keras_residual.data.balance import SAMPLERS
from keras_residual.data.sources import SourceOptions
from keras_residual.utils.options import check_options
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group

AUGMENTATIONS = ("auto", "none", "crop", "crop_flip")
LABEL_MODES = ("sparse", "categorical")
COLOR_MODES = ("auto", "rgb", "grayscale")
# Larger ones took minutes per batch (or hung) before failing for memory.
MAX_IMAGE_SIDE, MAX_BATCH_SIZE = 8192, 65536
DEFAULT_BATCH_SIZE = 128


@option_group
class LoadOptions:
    """How `load_data` reads a dataset and batches it: its keywords, by
    name (`load_data("digits", batch_size=64)`) or as one object
    (`load_data("digits", LoadOptions(batch_size=64))`)."""

    batch_size: int = option(
        DEFAULT_BATCH_SIZE, "Global batch size.", minimum=1, maximum=MAX_BATCH_SIZE
    )
    image_size: object = option(
        None,
        "Resize images to this size (an int or a `(height, width)` pair). "
        "None: the source's size (for an image folder `default_image_size`, "
        "else its images' common size).",
        type_doc="int, tuple or None",
    )
    augment: str = option(
        "auto",
        "`auto` (crop for the digits, crop and flip otherwise), `none`, "
        "`crop` or `crop_flip`.",
        choices=AUGMENTATIONS,
    )
    validation_fraction: float = option(
        0.1,
        "Share of the training data held out for validation where the "
        "source has no validation split (for a flat image folder, of each "
        "class).",
        minimum=0.0,
        maximum=0.9,
    )
    data_dir: str = option(
        None,
        "TFDS data directory, also searched for Fashion-MNIST's IDX files. "
        "None: TFDS's.",
    )
    download: bool = option(
        False,
        "Let TFDS download and prepare missing data (False: a missing "
        "dataset fails at once).",
    )
    seed: int = option(0, "Shuffle, augmentation and hold-out seed.")
    holdout_speaker: str = option(
        None,
        "Audio (`spoken_digit`): the speaker whose recordings are the test "
        "split (speaker-independent protocol). None: the dataset's own split.",
    )
    clip_samples: int = option(
        None,
        "Audio: the samples every clip is padded or cropped to. None: 8192 "
        "(1.02 s at 8 kHz).",
        minimum=256,
    )
    sample_rate: int = option(
        None,
        "Audio: the rate clips are resampled to (linear interpolation). "
        "None: 8000, spoken_digit's.",
        minimum=1000,
    )
    cache: object = option(
        True,
        "Cache decoded images in memory (True) or in a file (a path).",
        type_doc="bool or str",
    )
    label_mode: str = option(
        "sparse",
        "`sparse` integer labels or `categorical` one-hot labels.",
        choices=LABEL_MODES,
    )
    classes: int = option(
        None, "Classes; must cover every label. None: the source's.", minimum=2
    )
    mixup_alpha: float = option(
        0.0,
        "MixUp on training batches when > 0 (needs categorical labels).",
        minimum=0.0,
    )
    cutmix_alpha: float = option(
        0.0,
        "CutMix on training batches when > 0 (needs categorical labels).",
        minimum=0.0,
    )
    class_names: tuple = option(None, "Names of the classes of array sources.")
    uniform_batches: bool = option(
        False,
        "Make every batch full-size, as multi-process data parallelism "
        "needs: training drops its last partial batch; validation and test "
        "pad theirs with zero-weight examples and yield `(images, labels, "
        "weights)`, so weighted metrics and a `mean_with_sample_weight` loss "
        "stay exact.",
    )
    preprocessing: object = option(
        "tf",
        "How images are scaled for the model: `tf` ([-1, 1]), `caffe` or "
        "`torch` (keras.applications' modes), or any `Preprocessing` (or "
        "its config dict); pass the preprocessing of the weights you "
        "fine-tune.",
        type_doc="str, dict or Preprocessing",
        check=as_preprocessing,
        choices=PREPROCESSING_MODES,
    )
    skip_bad_images: bool = option(
        False,
        "For an image folder: leave out the files that cannot be decoded "
        "(counted and reported) instead of refusing the folder.",
    )
    color_mode: str = option(
        "auto",
        "An image folder's channels: `auto` (grey when every image is grey, "
        "else RGB), `rgb` or `grayscale`.",
        choices=COLOR_MODES,
    )
    test_fraction: float = option(
        0.1,
        "Share of each class of a flat image folder (one without train/ "
        "val/ test/ sub-folders) held out for testing, with `seed`.",
        minimum=0.0,
        maximum=0.9,
    )
    default_image_size: object = option(
        None,
        "An image folder's size when `image_size` is None (`train` passes "
        "the weights' or the model's size). None: the images' own size, "
        "where they all share one.",
        type_doc="int, tuple or None",
    )
    augmentation: object = option(
        None,
        "Training augmentation beyond crop and flip: a preset "
        f"({', '.join(map(repr, AUGMENTATION_PRESETS))}), a dict of its "
        "fields or an `Augmentation` (RandAugment, rotation, colour jitter, "
        "random erasing). None: none.",
        type_doc="str, dict, `Augmentation` or None",
    )
    sampler: str = option(
        "shuffle",
        "`shuffle`, or `balanced`: every class drawn equally often in "
        "training (minority classes repeat; an epoch keeps the split's "
        "size).",
        choices=SAMPLERS,
    )
    epoch_seeded: bool = option(
        False,
        "Draw each training epoch's order from `(seed, epoch)` (the epoch "
        "set by an `EpochClock` callback), not from the epochs served so "
        "far, so a resumed run sees the batches an uninterrupted one would; "
        "`train(deterministic=True)` sets it.",
    )

    def check(self):
        """Refuses bad values before any data is read.

        Raises:
            ValueError: naming the field, the value and what is allowed.
        """
        check_options(self)
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"`validation_fraction` ({self.validation_fraction}) and "
                f"`test_fraction` ({self.test_fraction}) together must leave "
                "training data (sum < 1)."
            )
        for name in ("mixup_alpha", "cutmix_alpha"):
            value = getattr(self, name)
            if value > 0 and self.label_mode != "categorical":
                raise ValueError(
                    f"`{name}={value}` mixes labels, which needs "
                    "`label_mode='categorical'`; received "
                    f"label_mode={self.label_mode!r}."
                )
        image_size_pair(self.image_size)
        image_size_pair(self.default_image_size, "default_image_size")

    def source_options(self):
        """The `SourceOptions` a source is read with."""
        return SourceOptions(
            data_dir=self.data_dir,
            download=self.download,
            validation_fraction=self.validation_fraction,
            seed=self.seed,
            image_size=image_size_pair(self.image_size),
            class_names=self.class_names,
            skip_bad_images=self.skip_bad_images,
            color_mode=self.color_mode,
            test_fraction=self.test_fraction,
            default_size=image_size_pair(self.default_image_size),
        )


def image_size_pair(image_size, argument="image_size"):
    """`(height, width)` from an int or a pair, or None.

    Args:
        image_size: int, tuple or None. The size.
        argument: str. Its name, for the message. Defaults to `"image_size"`.

    Raises:
        ValueError: anything but None, an int or a pair of ints in [8,
            `MAX_IMAGE_SIDE`].
    """
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
            f"`{argument}` must be an int or a (height, width) pair of ints "
            f"in [8, {MAX_IMAGE_SIDE}]; received {received!r}."
        )
    return tuple(image_size)
