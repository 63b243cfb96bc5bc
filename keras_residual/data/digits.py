"""The embedded dataset: 1,797 real handwritten digits shipped inside the
package (`digits.npz`), so the main job and the tests run offline."""

from importlib import resources

import numpy as np

EMBEDDED_DATASETS = {
    "digits": (
        "1,797 real handwritten digits (UCI optdigits test set, as shipped "
        "by scikit-learn), 8x8 upscaled to 32x32 grey; split 1,259 train / "
        "179 validation / 359 test."
    ),
}
DIGITS_SIZE = 32
DIGITS_CLASS_NAMES = tuple(str(i) for i in range(10))


def load_digits_arrays():
    """Returns the embedded digits as `{split: (images, labels)}`.

    Images are float32 `(n, 32, 32, 1)` in `[0, 255]`: the 8x8, 17-level
    originals scaled to 0..255 and resized bilinearly to 32x32. The split
    is fixed (stratified, seed 1797; see `examples/make_digits.py`).
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    with (
        resources.files("keras_residual.data")
        .joinpath("digits.npz")
        .open("rb") as handle
    ):
        archive = np.load(handle)
        images, labels, split = (archive["images"], archive["labels"], archive["split"])
    images = images.astype("float32")[..., None] * (255.0 / 16.0)
    images = tf.image.resize(
        images, (DIGITS_SIZE, DIGITS_SIZE), method="bilinear"
    ).numpy()
    images = np.clip(images, 0.0, 255.0)
    return {
        name: (images[split == index], labels[split == index].astype("int32"))
        for index, name in enumerate(("train", "validation", "test"))
    }
