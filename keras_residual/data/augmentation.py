"""`Augmentation`: the training augmentation beyond pad-and-crop and flips
(RandAugment, rotation, colour jitter, random erasing), built from Keras'
own preprocessing layers, and its named presets.

The layers run inside the `tf.data` pipeline (Keras switches them to
TensorFlow ops there, whatever the backend), on pixel values in [0, 255]
before the model's preprocessing: RandAugment on each image (so that each
image draws its own operations), the others on whole batches (their
parameters are drawn per image).
"""

import dataclasses

from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import unknown_name_message

# Keras' RandAugment draws from 11 operations; `rand_augment` applies at most
# that many per image (100,000 once hung a run for minutes).
RAND_AUGMENT_OPS = 11

PIXEL_RANGE = (0, 255)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Extra training augmentation, each part off at 0.

    Args:
        rand_augment: int. RandAugment operations per image (Cubuk et al.,
            2020; `keras.layers.RandAugment`); 0 is off. Defaults to `0`.
        rand_augment_magnitude: float. RandAugment's strength in (0, 1].
            Defaults to `0.5`.
        rotation: float. Largest rotation in degrees, either way, filled
            with zeros as the crop's padding is. Defaults to `0`.
        color_jitter: float. Brightness and contrast (and, for RGB,
            saturation) change by up to this fraction. Defaults to `0`.
        random_erasing: float. Probability of erasing a random rectangle
            (2-33% of the image) with noise (Zhong et al., 2020).
            Defaults to `0`.
    """

    rand_augment: int = 0
    rand_augment_magnitude: float = 0.5
    rotation: float = 0.0
    color_jitter: float = 0.0
    random_erasing: float = 0.0

    def __post_init__(self):
        check_int(
            "rand_augment", self.rand_augment, minimum=0, maximum=RAND_AUGMENT_OPS
        )
        check_float(
            "rand_augment_magnitude",
            self.rand_augment_magnitude,
            0.0,
            1.0,
            min_inclusive=False,
        )
        check_float("rotation", self.rotation, 0.0, 180.0)
        check_float("color_jitter", self.color_jitter, 0.0, 1.0, max_inclusive=False)
        check_float("random_erasing", self.random_erasing, 0.0, 1.0)

    @property
    def enabled(self):
        """Whether any part is on."""
        return any(
            (self.rand_augment, self.rotation, self.color_jitter, self.random_erasing)
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    def image_layers(self, seed=None):
        """The layers applied to each image on its own: RandAugment.

        Args:
            seed: int or None. Augmentation seed. Defaults to `None`.
        """
        import keras  # only where layers are built: the CLI's parsers read the presets

        if not self.rand_augment:
            return []
        return [
            keras.layers.RandAugment(
                value_range=PIXEL_RANGE,
                num_ops=self.rand_augment,
                factor=self.rand_augment_magnitude,
                seed=seed,
                name="rand_augment",
            )
        ]

    def batch_layers(self, channels, seed=None):
        """The layers applied to whole batches, per-image parameters:
        rotation, colour jitter, random erasing, in that order.

        Args:
            channels: int. Image channels; saturation jitter needs 3.
            seed: int or None. Augmentation seed. Defaults to `None`.
        """
        import keras

        layers = []
        if self.rotation:
            layers.append(
                keras.layers.RandomRotation(
                    self.rotation / 360.0,
                    fill_mode="constant",
                    seed=seed,
                    name="random_rotation",
                )
            )
        if self.color_jitter:
            layers.append(
                keras.layers.RandomColorJitter(
                    value_range=PIXEL_RANGE,
                    brightness_factor=self.color_jitter,
                    contrast_factor=self.color_jitter,
                    saturation_factor=(
                        (
                            max(0.0, 0.5 - self.color_jitter / 2),
                            0.5 + self.color_jitter / 2,
                        )
                        if channels == 3
                        else None
                    ),
                    seed=seed,
                    name="color_jitter",
                )
            )
        if self.random_erasing:
            layers.append(
                keras.layers.RandomErasing(
                    # A pair: a single f would draw the probability from (0, f).
                    factor=(self.random_erasing, self.random_erasing),
                    value_range=PIXEL_RANGE,
                    seed=seed,
                    name="random_erasing",
                )
            )
        return layers

    def merged(self, **fields):
        """A copy in which each non-zero field of `fields` replaces this
        one's.

        Args:
            **fields: `Augmentation` fields; zero or None leaves the field.
        """
        return dataclasses.replace(
            self, **{name: value for name, value in fields.items() if value}
        )


AUGMENTATION_FIELDS = tuple(field.name for field in dataclasses.fields(Augmentation))

# Measured on Fashion-MNIST (`python -m benchmarks augmentation`; see
# docs/training.md): what helps small grey images, and timm's photo recipe.
AUGMENTATION_PRESETS = {
    "none": Augmentation(),
    "grey": Augmentation(random_erasing=0.25),
    "photo": Augmentation(
        rand_augment=2, rand_augment_magnitude=0.5, random_erasing=0.25
    ),
}


def get_augmentation(augmentation):
    """An `Augmentation` from a preset name, a dict of fields, an
    `Augmentation` or None (none).

    Args:
        augmentation: str, dict, `Augmentation` or None. The augmentation.
    """
    if augmentation is None:
        return Augmentation()
    if isinstance(augmentation, Augmentation):
        return augmentation
    if isinstance(augmentation, dict):
        unknown = set(augmentation) - set(AUGMENTATION_FIELDS)
        if unknown:
            raise ValueError(
                unknown_name_message(
                    "augmentation field",
                    sorted(unknown)[0],
                    AUGMENTATION_FIELDS,
                    "field",
                )
            )
        return Augmentation(**augmentation)
    if isinstance(augmentation, str):
        if augmentation not in AUGMENTATION_PRESETS:
            raise ValueError(
                unknown_name_message(
                    "augmentation", augmentation, list(AUGMENTATION_PRESETS), "preset"
                )
            )
        return AUGMENTATION_PRESETS[augmentation]
    raise TypeError(
        "`augmentation` must be a preset name "
        f"({', '.join(AUGMENTATION_PRESETS)}), a dict of fields or an "
        f"Augmentation; received {type(augmentation).__name__}."
    )
