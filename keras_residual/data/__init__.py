"""Input data: `load_data()` from the embedded digits (`digits.npz`), NumPy
arrays, image directories or TFDS, into one `tf.data` pipeline."""

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "EMBEDDED_DATASETS": "keras_residual.data.digits",
    "load_digits_arrays": "keras_residual.data.digits",
    "AUGMENTATIONS": "keras_residual.data.load_options",
    "DataBundle": "keras_residual.data.bundle",
    "load_data": "keras_residual.data.loader",
    "LoadOptions": "keras_residual.data.load_options",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
