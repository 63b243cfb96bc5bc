"""`DataOptions`: the data options of `train()`, `search()` and their
commands, each written once (see `keras_residual.utils.options`)."""

from keras_residual.data.augmentation import AUGMENTATION_PRESETS
from keras_residual.data.balance import SAMPLERS
from keras_residual.data.load_options import AUGMENTATIONS
from keras_residual.data.load_options import COLOR_MODES
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group
from keras_residual.utils.options import option_names


@option_group
class DataOptions:
    """How a run reads its dataset: the arguments `train()` and `search()`
    pass to `load_data`."""

    batch_size: int = option(
        None,
        "Global batch size; the learning rate scales with it. None: the recipe's.",
        cli_type=int,
        setting="resolved",
    )
    image_size: int = option(
        None,
        "Resize images to this size. None: the size the weights were trained "
        "at, else the data's.",
        cli_type=int,
        setting=True,
    )
    classes: int = option(
        None, "Classifier size. None: the data's.", cli_type=int, setting=True
    )
    augment: str = option(
        "auto",
        "Training augmentation (see `load_data`).",
        choices=AUGMENTATIONS,
        setting=True,
    )
    augmentation: str = option(
        None,
        "Augmentation beyond crop and flip, a preset: grey (small grey "
        "images) or photo (RandAugment and random erasing, as timm); the "
        "recipe's augmentation fields add to it. None: the recipe's alone.",
        choices=tuple(AUGMENTATION_PRESETS),
        cli_type=str,
        setting=True,
    )
    sampler: str = option(
        "shuffle",
        "shuffle, or balanced: training draws every class equally often "
        "(minority classes repeat), for imbalanced data.",
        choices=SAMPLERS,
        setting=True,
    )
    color_mode: str = option(
        "auto",
        "An image folder's channels: auto (grey when all its images are "
        "grey), rgb or grayscale. Pretrained weights of another channel count "
        "are adapted (timm's rule).",
        choices=COLOR_MODES,
        setting=True,
    )
    class_names: tuple = option(
        None,
        "Names of the classes of array data (folders and TFDS name their "
        "own); the model records the data's names, so `model.keras`, the "
        "SavedModel and `predict` show them.",
        cli=False,
    )
    skip_bad_images: bool = option(
        False,
        "Leave out an image folder's files that cannot be decoded (counted "
        "and reported) instead of refusing the folder.",
    )
    data_dir: str = option(
        None,
        "TFDS data directory, also searched for Fashion-MNIST's IDX files.",
        cli_type=str,
    )
    download: bool = option(False, "Let TFDS download a missing dataset.")
    holdout_speaker: str = option(
        None,
        "spoken_digit: the speaker whose recordings are the test split (the "
        "speaker-independent protocol). None: the dataset's own split.",
        cli_type=str,
        setting=True,
    )
    clip_samples: int = option(
        None,
        "Audio: the samples every training clip is padded or cropped to "
        "(the model serves any length). None: 8192.",
        cli_type=int,
        minimum=256,
        setting=True,
    )
    sample_rate: int = option(
        None,
        "Audio: the rate clips are resampled to, the model's. None: 8000.",
        cli_type=int,
        minimum=1000,
        setting=True,
    )

    def load_kwargs(self):
        """The `load_data` keywords these options give: every field, each
        one of `LoadOptions`, but `batch_size`, whose default is the
        recipe's."""
        return {
            name: getattr(self, name)
            for name in option_names(DataOptions)
            if name != "batch_size"
        }
