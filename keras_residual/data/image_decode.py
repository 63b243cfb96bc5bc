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
