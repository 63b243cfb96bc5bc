"""Input data: `load_data()` from the embedded digits (`digits.npz`), NumPy
arrays, image directories or TFDS, into one `tf.data` pipeline."""

from keras_residual.data.digits import EMBEDDED_DATASETS
from keras_residual.data.digits import load_digits_arrays
from keras_residual.data.loader import AUGMENTATIONS
from keras_residual.data.loader import DataBundle
from keras_residual.data.loader import load_data
