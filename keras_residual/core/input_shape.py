"""The input shape of a model, keras.applications-style: images
`(height, width, channels)` or 1-D signals `(length, channels)`."""

import math

import keras

from keras_residual.core.limits import LIMITS
from keras_residual.utils.validation import check_int

AXES = {2: ("length",), 3: ("height", "width")}


def _check_shape_type(input_shape):
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise TypeError(
            "`input_shape` must be a tuple (height, width, channels) or "
            f"(length, channels); received {input_shape!r}."
        )
    if len(input_shape) not in AXES:
        raise ValueError(
            "`input_shape` must be (height, width, channels) for images or "
            f"(length, channels) for 1-D signals; received {tuple(input_shape)!r} "
            f"with {len(input_shape)} entries."
        )


def _from_tensor(input_tensor, input_shape):
    tensor_shape = tuple(input_tensor.shape)
    if len(tensor_shape) not in (3, 4):
        raise ValueError(
            "`input_tensor` must be a batch of images (batch, height, width, "
            f"channels) or of 1-D signals (batch, length, channels); received "
            f"shape {tensor_shape}."
        )
    if input_shape is not None and tuple(input_shape) != tensor_shape[1:]:
        raise ValueError(
            f"`input_shape` {tuple(input_shape)} disagrees with the shape "
            f"of `input_tensor` {tensor_shape[1:]}."
        )
    return tensor_shape[1:]


def resolve_input_shape(input_shape, input_tensor, spec, include_top, fixed_size=False):
    """Checks and completes the input shape, keras.applications-style.

    Without `input_shape` or `input_tensor`, a classifier gets
    `(default_size, default_size, 3)` and a backbone `(None, None, 3)`
    (a model with token stages keeps the default size: its position
    embeddings need a known grid). A 2-entry shape `(length, channels)`
    builds the same blocks in 1-D.

    Args:
        input_shape: tuple or None. `(height, width, channels)` or
            `(length, channels)`.
        input_tensor: tensor or None. A tensor to use as the input.
        spec: `ModelSpec`. Supplies `default_size` and `min_size`.
        include_top: bool. A classifier needs a known size.
        fixed_size: bool. The model needs a known size (Transformer
            stages). Defaults to `False`.
    """
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_residual models are channels-last; "
            f"keras.config.image_data_format() is "
            f"{keras.config.image_data_format()!r}. Call "
            "keras.config.set_image_data_format('channels_last')."
        )
    if input_tensor is not None:
        input_shape = _from_tensor(input_tensor, input_shape)
    if input_shape is None:
        size = spec.default_size if include_top or fixed_size else None
        return (size, size, 3)
    _check_shape_type(input_shape)
    *sizes, channels = input_shape
    for axis, size in zip(AXES[len(input_shape)], sizes):
        if size is None:
            continue
        check_int(f"input_shape {axis}", size)
        if size < spec.min_size:
            raise ValueError(
                f"Input {axis} must be at least {spec.min_size}; received "
                f"input_shape={tuple(input_shape)!r}."
            )
    check_int("input_shape channels", channels, minimum=1)
    elements = math.prod(size or 1 for size in input_shape)
    if elements > LIMITS["input_elements"]:
        raise ValueError(
            f"`input_shape` {tuple(input_shape)!r} holds {elements:.3g} values "
            f"per image, over the limit of {LIMITS['input_elements']:.3g} "
            "(one such image needs gigabytes in every layer); if you mean it, "
            "raise keras_residual.core.spec.LIMITS['input_elements']."
        )
    if None in sizes and (include_top or fixed_size):
        reason = (
            "Transformer stages (their position embeddings) need"
            if fixed_size
            else "`include_top=True` needs"
        )
        hint = (
            "" if fixed_size else ", or include_top=False for a variable-size backbone"
        )
        raise ValueError(
            f"{reason} a known input height and width; received "
            f"input_shape={tuple(input_shape)!r}. Pass a full input_shape{hint}."
        )
    return tuple(input_shape)
