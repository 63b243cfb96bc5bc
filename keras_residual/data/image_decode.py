"""Decoding an image file to the channels a model takes, for every format
TensorFlow reads (PNG, JPEG, BMP, GIF): each is decoded with its own
channels, then converted. TensorFlow's own conversion refuses GIF and BMP
to one channel and CMYK JPEG to one channel, which once killed training
mid-epoch on a GIF in a grey folder."""


def decode_image(contents, channels=None):
    """A uint8 `(height, width, channels)` image from encoded bytes (the
    first frame of an animation), grey or RGB as asked; alpha is dropped.

    Args:
        contents: string tensor. The file's bytes.
        channels: int or None. 1 (grey) or 3 (RGB); None keeps the file's.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    image = tf.io.decode_image(contents, expand_animations=False)
    if channels is None:
        return image
    colour = tf.shape(image)[-1] >= 3
    if channels == 1:
        image = tf.cond(
            colour,
            lambda: tf.image.rgb_to_grayscale(image[..., :3]),
            lambda: image[..., :1],
        )
    else:
        image = tf.cond(
            colour,
            lambda: image[..., :3],
            lambda: tf.image.grayscale_to_rgb(image[..., :1]),
        )
    image.set_shape([None, None, channels])
    return image


# tf.image.rgb_to_grayscale's weights, applied as it applies them.
GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)
PILLOW_MODES = {"1": "L", "L": "L", "LA": "L", "P": "RGB", "RGB": "RGB"}
PILLOW_MODES.update(RGBA="RGB", CMYK="RGB", YCbCr="RGB")


def decode_image_file(path, channels=None):
    """`decode_image` of a file without TensorFlow, through Pillow: the
    first frame, as uint8 `(height, width, channels)`. PNG, BMP and GIF
    give TensorFlow's values exactly; a JPEG may differ by a few levels
    (another decoder). None for a mode Pillow does not map to 8-bit grey
    or RGB (16-bit PNG), which TensorFlow's decoder handles.

    Args:
        path: str. An image file, checked already (a bounded regular file).
        channels: int or None. 1 (grey) or 3 (RGB); None keeps the file's.
    """
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.seek(0)
            mode = PILLOW_MODES.get(image.mode)
            if mode is None:
                return None
            array = np.asarray(image.convert(mode))
    except Exception as error:  # Pillow raises many types for a bad file
        raise ValueError(f"{path!r} is not a readable image ({error}).") from None
    array = array[..., None] if array.ndim == 2 else array
    if channels == 1 and array.shape[-1] == 3:
        grey = (array / np.float32(255)).astype("float32") @ np.float32(GREY_WEIGHTS)
        array = np.clip(np.floor(grey * 255.5), 0, 255).astype("uint8")[..., None]
    elif channels == 3 and array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array
