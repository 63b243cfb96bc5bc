"""The input preprocessing modes, implemented once.

`preprocess_input`, the `load_data` pipeline, the serving signatures and
the `.keras` predictor all call `preprocess`. It uses only indexing and
arithmetic, so it runs on NumPy arrays, TensorFlow tensors (in `tf.data`
and SavedModel graphs) and JAX arrays alike, with the exact operations of
`keras.applications.imagenet_utils.preprocess_input`:

- `"tf"` (ResNetV2, the CIFAR nets, `load_data`): `x / 127.5 - 1`, in
  [-1, 1];
- `"caffe"` (ResNet v1): RGB to BGR, then the ImageNet BGR mean subtracted;
- `"torch"` (DenseNet): `x / 255`, then the ImageNet RGB mean subtracted
  and divided by the standard deviation.
"""

import dataclasses

import numpy as np

from keras_residual.utils.validation import check_choice

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class PreprocessingMode:
    """`(flip(x) / divisor - mean) / std`, per channel.

    Args:
        name: str. The keras.applications mode name.
        divisor: float. Divides the 0..255 pixels first.
        mean: tuple of float or None. Subtracted per channel.
        std: tuple of float or None. Divides per channel.
        bgr: bool. Reverse the channel order (RGB to BGR) first.
    """

    name: str
    divisor: float = 1.0
    mean: tuple = None
    std: tuple = None
    bgr: bool = False


MODES = {
    "tf": PreprocessingMode("tf", divisor=127.5, mean=(1.0,)),
    "caffe": PreprocessingMode("caffe", mean=IMAGENET_MEAN_BGR, bgr=True),
    "torch": PreprocessingMode(
        "torch", divisor=255.0, mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB
    ),
}
PREPROCESSING_MODES = tuple(MODES)


def preprocess(x, mode, channels_first=False):
    """Scales RGB images in [0, 255] the way a model family was trained.

    Args:
        x: float array or tensor (NumPy, TensorFlow or JAX). Images, a batch
            or one image.
        mode: str. `"tf"`, `"caffe"` or `"torch"`.
        channels_first: bool. The channel axis is the first after the batch
            axis (`(batch, channels, height, width)`). Defaults to `False`.

    Returns:
        The preprocessed images, of the same kind and dtype as `x`.
    """
    check_choice("mode", mode, PREPROCESSING_MODES)
    spec = MODES[mode]
    channel_axis = (len(x.shape) - 3) if channels_first else len(x.shape) - 1
    channels = x.shape[channel_axis]
    if spec.mean is not None and len(spec.mean) == 3 and channels not in (3, None):
        raise ValueError(
            f"Preprocessing mode {mode!r} needs RGB images (3 channels); "
            f"received {channels} channel(s), shape {tuple(x.shape)}. Use "
            "mode 'tf' for grey or multi-channel images."
        )
    if spec.bgr:
        x = x[(slice(None),) * channel_axis + (slice(None, None, -1),)]
    if spec.divisor != 1.0:
        x = x / spec.divisor
    if spec.mean is not None:
        x = x - _per_channel(spec.mean, x, channel_axis)
    if spec.std is not None:
        x = x / _per_channel(spec.std, x, channel_axis)
    return x


def to_pixels(x, mode):
    """Undoes `preprocess`: back to RGB values in [0, 255] (float).

    Args:
        x: float array or tensor, channels last. Preprocessed images.
        mode: str. The mode they were preprocessed with.
    """
    check_choice("mode", mode, PREPROCESSING_MODES)
    spec = MODES[mode]
    channel_axis = len(x.shape) - 1
    if spec.std is not None:
        x = x * _per_channel(spec.std, x, channel_axis)
    if spec.mean is not None:
        x = x + _per_channel(spec.mean, x, channel_axis)
    x = x * spec.divisor
    return x[..., ::-1] if spec.bgr else x


def _per_channel(values, x, channel_axis):
    """`values` shaped to broadcast along `channel_axis` of `x`, in `x`'s
    dtype (a scalar for a one-value constant)."""
    dtype = np.dtype(getattr(x.dtype, "as_numpy_dtype", x.dtype))
    if len(values) == 1:
        return np.asarray(values[0], dtype)
    trailing = len(x.shape) - channel_axis - 1
    return np.asarray(values, dtype).reshape((-1,) + (1,) * trailing)
