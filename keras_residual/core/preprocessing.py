"""Input preprocessing as data: `Preprocessing`, and the three named modes.

`preprocess_input`, the `load_data` pipeline, the serving signatures and
the `.keras` predictor all call `preprocess`. It uses only indexing and
arithmetic, so it runs on NumPy arrays, TensorFlow tensors (in `tf.data`
and SavedModel graphs) and JAX arrays alike. The named modes are
`Preprocessing` instances with the exact operations of
`keras.applications.imagenet_utils.preprocess_input`:

- `"tf"` (ResNetV2, the CIFAR nets, `load_data`): `x / 127.5 - 1`, in
  [-1, 1];
- `"caffe"` (ResNet v1): RGB to BGR, then the ImageNet BGR mean subtracted;
- `"torch"` (DenseNet, timm's ImageNet checkpoints): `x / 255`, then the
  ImageNet RGB mean subtracted and divided by the standard deviation.

Any other normalisation (a timm `pretrained_cfg`'s mean and std, a
keras-hub image converter's scale and offset: `keras_residual.hub.
preprocessing_formats` maps both ways) is a `Preprocessing` too. Configs,
run records, cards and exports record a named mode by its name and any
other as its `get_config()` dict, as Keras records activations.
"""

import dataclasses
import numbers

import numpy as np

from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import dataclass_from_config

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CHANNEL_ORDERS = ("rgb", "bgr")
LAYOUTS = ("channels_last", "channels_first")
# Resize methods that both `tf.image.resize` and `keras.ops.image.resize` know.
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area", "lanczos3", "lanczos5")


def _channel_values(argument, values, positive=False):
    """`values` as a tuple of one or three floats, checked."""
    if isinstance(values, numbers.Real):
        values = (values,)
    if not isinstance(values, (tuple, list)) or len(values) not in (1, 3):
        raise ValueError(
            f"`{argument}` must be one number or one per RGB channel (3); "
            f"received {values!r}."
        )
    minimum = 0.0 if positive else None
    return tuple(
        float(check_float(argument, v, minimum=minimum, min_inclusive=not positive))
        for v in values
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Preprocessing:
    """How RGB images in [0, 255] become a model's input:
    `(order(x) / scale - mean) / std` per channel, after resizing with
    `interpolation` from the central `crop_fraction` of the image.

    Args:
        scale: float. Divides the pixels first (`255.0`: [0, 1]). Defaults
            to `255.0`.
        mean: tuple of float. Subtracted per channel (one value: every
            channel), in the units after `scale`. Defaults to `(0.0,)`.
        std: tuple of float. Divides per channel after `mean`. Defaults to
            `(1.0,)`.
        channel_order: str. `"rgb"`, or `"bgr"` to reverse the channels
            first (Caffe's order). Defaults to `"rgb"`.
        interpolation: str. How a served image is resized to the model's
            size: one of `INTERPOLATIONS`. Defaults to `"bilinear"`.
        crop_fraction: float. The central fraction of a served image kept
            before resizing (timm's `crop_pct`). Defaults to `1.0`.
        layout: str. `"channels_last"` or `"channels_first"` (where the
            channel axis of the model's input is). Defaults to
            `"channels_last"`.

    A named mode also equals its name: `kr.ResNet50().preprocessing ==
    "caffe"`, as the string it was in 0.2.
    """

    scale: float = 255.0
    mean: tuple = (0.0,)
    std: tuple = (1.0,)
    channel_order: str = "rgb"
    interpolation: str = "bilinear"
    crop_fraction: float = 1.0
    layout: str = "channels_last"

    def __post_init__(self):
        check_float("scale", self.scale, minimum=0.0, min_inclusive=False)
        set_field = object.__setattr__.__get__(self)
        set_field("scale", float(self.scale))
        set_field("mean", _channel_values("mean", self.mean))
        set_field("std", _channel_values("std", self.std, positive=True))
        check_choice("channel_order", self.channel_order, CHANNEL_ORDERS)
        check_choice("interpolation", self.interpolation, INTERPOLATIONS)
        check_float(
            "crop_fraction", self.crop_fraction, minimum=0.0, maximum=1.0,
            min_inclusive=False,
        )  # fmt: skip
        set_field("crop_fraction", float(self.crop_fraction))
        check_choice("layout", self.layout, LAYOUTS)

    def __eq__(self, other):
        if isinstance(other, str):
            return self.name == other
        if isinstance(other, Preprocessing):
            return dataclasses.astuple(self) == dataclasses.astuple(other)
        return NotImplemented

    def __hash__(self):
        return hash(self.name or dataclasses.astuple(self))

    @property
    def name(self):
        """The named mode this equals (`"tf"`, `"caffe"`, `"torch"`), or
        None."""
        return next(
            (
                name
                for name, mode in MODES.items()
                if dataclasses.astuple(mode) == dataclasses.astuple(self)
            ),
            None,
        )

    @property
    def channels(self):
        """The channel count the mean and std need (3), or None for any."""
        return 3 if 3 in (len(self.mean), len(self.std)) else None

    def get_config(self):
        """The constructor arguments, JSON-ready."""
        config = dataclasses.asdict(self)
        config.update(mean=list(self.mean), std=list(self.std))
        return config

    @classmethod
    def from_config(cls, config):
        """The `Preprocessing` of a `get_config()` dict; unknown keys are
        refused with close matches.

        Args:
            config: dict. Constructor arguments.
        """
        return dataclass_from_config(cls, config, "preprocessing")

    def to_json(self):
        """The name of a named mode, else the `get_config()` dict."""
        return self.name or self.get_config()

    def __str__(self):
        return self.name or (
            f"Preprocessing(scale={self.scale:g}, mean={self.mean}, std={self.std})"
        )


MODES = {
    "tf": Preprocessing(scale=127.5, mean=(1.0,)),
    "caffe": Preprocessing(scale=1.0, mean=IMAGENET_MEAN_BGR, channel_order="bgr"),
    "torch": Preprocessing(mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB),
}
PREPROCESSING_MODES = tuple(MODES)


def as_preprocessing(value, argument="preprocessing"):
    """A `Preprocessing` from a mode name, a `get_config()` dict or an
    instance; None stays None.

    Args:
        value: str, dict, `Preprocessing` or None.
        argument: str. The argument's name, for messages. Defaults to
            `"preprocessing"`.
    """
    if value is None or isinstance(value, Preprocessing):
        return value
    if isinstance(value, str):
        return MODES[check_choice(argument, value, PREPROCESSING_MODES)]
    if isinstance(value, dict):
        return Preprocessing.from_config(value)
    raise TypeError(
        f"`{argument}` must be a mode name ({', '.join(PREPROCESSING_MODES)}), "
        f"a Preprocessing or its config dict; received {type(value).__name__}."
    )


def preprocessing_json(value):
    """How a preprocessing is recorded in JSON: a mode's name, another's
    config dict, or None.

    Args:
        value: str, dict, `Preprocessing` or None.
    """
    value = as_preprocessing(value)
    return None if value is None else value.to_json()


def check_channels(preprocessing, channels, where="the images"):
    """Raises `ValueError` when `preprocessing`'s per-channel mean or std
    does not fit `channels` channels.

    Args:
        preprocessing: str, dict or `Preprocessing`.
        channels: int or None. The images' channel count (None: unknown).
        where: str. What has `channels` channels, for the message.
    """
    preprocessing = as_preprocessing(preprocessing)
    needed = preprocessing.channels
    if needed is not None and channels not in (needed, None):
        raise ValueError(
            f"`preprocessing={preprocessing}` needs RGB images (3 channels); "
            f"received {channels} channel(s) ({where}). Use preprocessing='tf' "
            "for grey or multi-channel images."
        )


def preprocess(x, mode, channels_first=None):
    """Scales RGB images in [0, 255] the way a model family was trained.

    Args:
        x: float array or tensor (NumPy, TensorFlow or JAX). Images, a batch
            or one image.
        mode: str, dict or `Preprocessing`. `"tf"`, `"caffe"`, `"torch"` or
            any other normalisation.
        channels_first: bool or None. The channel axis is the first after
            the batch axis (`(batch, channels, height, width)`). Defaults to
            the preprocessing's `layout`.

    Returns:
        The preprocessed images, of the same kind and dtype as `x`.
    """
    spec = as_preprocessing(mode, "mode")
    if channels_first is None:
        channels_first = spec.layout == "channels_first"
    channel_axis = (len(x.shape) - 3) if channels_first else len(x.shape) - 1
    check_channels(spec, x.shape[channel_axis], f"shape {tuple(x.shape)}")
    if spec.channel_order == "bgr":
        x = x[(slice(None),) * channel_axis + (slice(None, None, -1),)]
    if spec.scale != 1.0:
        x = x / spec.scale
    if any(spec.mean):
        x = x - _per_channel(spec.mean, x, channel_axis)
    if any(value != 1.0 for value in spec.std):
        x = x / _per_channel(spec.std, x, channel_axis)
    return x


def to_pixels(x, mode):
    """Undoes `preprocess`: back to RGB values in [0, 255] (float).

    Args:
        x: float array or tensor, channels last. Preprocessed images.
        mode: str, dict or `Preprocessing`. What they were preprocessed with.
    """
    spec = as_preprocessing(mode, "mode")
    channel_axis = len(x.shape) - 1
    x = x * _per_channel(spec.std, x, channel_axis)
    x = x + _per_channel(spec.mean, x, channel_axis)
    x = x * spec.scale
    return x[..., ::-1] if spec.channel_order == "bgr" else x


def _per_channel(values, x, channel_axis):
    """`values` shaped to broadcast along `channel_axis` of `x`, in `x`'s
    dtype (a scalar for a one-value constant)."""
    dtype = np.dtype(getattr(x.dtype, "as_numpy_dtype", x.dtype))
    if len(values) == 1:
        return np.asarray(values[0], dtype)
    trailing = len(x.shape) - channel_axis - 1
    return np.asarray(values, dtype).reshape((-1,) + (1,) * trailing)
