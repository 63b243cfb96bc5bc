"""`DataBundle`: the pipelines and facts `load_data()` returns."""

import dataclasses

from keras_residual.core.front_end import AudioFrontEnd
from keras_residual.core.front_end import as_front_end
from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.data.augmentation import Augmentation
from keras_residual.data.balance import count_classes
from keras_residual.utils.deprecation import warn_once


@dataclasses.dataclass
class DataBundle:
    """The pipelines and facts a training run needs.

    Args:
        train: `tf.data.Dataset`. Shuffled, augmented, batched training data.
        validation: `tf.data.Dataset` or None. Batched, not augmented.
        test: `tf.data.Dataset` or None. Batched, not augmented.
        classes: int. Number of classes (`num_classes`, its 0.1 name, still
            reads, with a warning).
        image_shape: tuple. `(height, width, channels)` fed to the model.
        class_names: tuple of str. Names of the classes.
        sizes: dict. Number of examples per split (None where unknown).
        batch_size: int. Global batch size.
        source: str. Where the data came from.
        preprocessing: `Preprocessing`. How the images are scaled.
        augment: str. The crop and flip applied to `train`.
        augmentation: `Augmentation`. The augmentation beyond crop and
            flip applied to `train`. Defaults to none.
        uniform_batches: bool. Every batch is full-size (multi-process
            training). Defaults to `False`.
        sampler: str. `"shuffle"` or `"balanced"` (every class drawn
            equally often). Defaults to `"shuffle"`.
        class_counts: tuple of int or None. Training examples per class;
            None for a split not counted yet (a TFDS split, until
            `require_class_counts` reads it). Defaults to `None`.
        uncounted_train: `tf.data.Dataset` or None. The unbatched training
            split that `require_class_counts` counts when `class_counts` is
            None. Defaults to `None`.
        epoch_clock: `tf.Variable` or None. Under `epoch_seeded`, the epoch
            whose order `train` draws next; `fit` sets it through an
            `EpochClock` callback. Defaults to `None`.
        train_in_order: `tf.data.Dataset` or None. The training split as
            the evaluation splits are read: batched in order, not
            shuffled or augmented (for evaluating every image). Defaults
            to `None`.
        files: dict or None. `{split: tuple of paths}` of an image folder,
            in the order its in-order pipelines yield them; None for other
            sources. Defaults to `None`.
        sample_rate: int or None. Audio: the clips' samples per second
            (`image_shape` is then `(samples,)`); None for images.
            Defaults to `None`.
    """

    train: object
    validation: object
    test: object
    classes: int
    image_shape: tuple
    class_names: tuple
    sizes: dict
    batch_size: int
    source: str
    preprocessing: Preprocessing = MODES["tf"]
    augment: str = "none"
    augmentation: Augmentation = Augmentation()
    uniform_batches: bool = False
    sampler: str = "shuffle"
    class_counts: tuple = None
    uncounted_train: object = dataclasses.field(default=None, repr=False)
    epoch_clock: object = dataclasses.field(default=None, repr=False)
    train_in_order: object = dataclasses.field(default=None, repr=False)
    files: dict = dataclasses.field(default=None, repr=False)
    sample_rate: int = None

    def front_end(self, kind=None):
        """The `AudioFrontEnd` of a model for this audio data: `kind` at
        the clips' rate, trained at their length; None for images.

        Args:
            kind: str, `AudioFrontEnd`, dict or None. `"log_mel"` or
                `"waveform"`, or a front end (or its config) whose other
                fields are kept; None for `"log_mel"`.

        Raises:
            ValueError: `kind` given for image data.
        """
        if self.sample_rate is None:
            if kind is not None:
                raise ValueError(
                    f"`front_end` ({kind!r}) is for audio data; dataset "
                    f"{self.source!r} is images."
                )
            return None
        return dataclasses.replace(
            as_front_end(kind) or AudioFrontEnd(),
            sample_rate=self.sample_rate,
            samples=self.image_shape[0],
        )

    def require_class_counts(self):
        """`class_counts`, reading the uncounted training split's labels
        once (with a progress bar) where they are not known yet."""
        if self.class_counts is None and self.uncounted_train is not None:
            self.class_counts = count_classes(self.uncounted_train, self.classes)
        return self.class_counts

    @property
    def num_classes(self):
        """The 0.1 name of `classes`."""
        warn_once(
            ("DataBundle", "num_classes"),
            "DataBundle.num_classes is deprecated; read DataBundle.classes.",
        )
        return self.classes

    @property
    def steps_per_epoch(self):
        """Training batches per epoch, or None when the size is unknown."""
        size = self.sizes.get("train")
        if size is None:
            return None
        if self.uniform_batches:
            return max(size // self.batch_size, 1)
        return -(-size // self.batch_size)
