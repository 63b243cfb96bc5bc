"""`preprocess_input` and `decode_predictions`, keras.applications-style.

Each registered model records its `Preprocessing`, most often a
keras.applications mode: `"caffe"` (ResNet v1: BGR, ImageNet mean
subtracted), `"tf"` (ResNetV2 and the CIFAR nets: scaled to [-1, 1]) or
`"torch"` (DenseNet: [0, 1], then ImageNet mean and std). Preprocessing
itself is implemented once, in `keras_residual.core.preprocessing`.
"""

import keras
import numpy as np

from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocess
from keras_residual.models.zoo import get_model_entry
from keras_residual.utils.download import WeightsFile
from keras_residual.utils.download import fetch_weights_file
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

DATA_FORMATS = ("channels_last", "channels_first")

IMAGENET_CLASS_INDEX = WeightsFile(
    url="https://storage.googleapis.com/download.tensorflow.org/data/"
    "imagenet_class_index.json",
    file_hash="c2c37ea517e94d9795004a39431a14cb",
)
# The class index is 35 KB; its hash is checked before it is read.
MAX_CLASS_INDEX_BYTES = 1 << 20


def preprocess_input(x, mode="caffe", data_format=None):
    """Scales a batch of RGB images in [0, 255] for a model family, with the
    arithmetic of `keras.applications` (unlike it, a NumPy input is never
    modified in place).

    Args:
        x: array or tensor. Images.
        mode: str, dict or `Preprocessing`. `"caffe"`, `"tf"`, `"torch"`
            or any other `Preprocessing`. Defaults to `"caffe"`.
        data_format: str or None. `"channels_last"` or `"channels_first"`.
            Defaults to the Keras setting.

    Returns:
        A float array (for NumPy input) or tensor.
    """
    mode = as_preprocessing(mode, "mode")
    data_format = data_format or keras.config.image_data_format()
    check_choice("data_format", data_format, DATA_FORMATS)
    if isinstance(x, np.ndarray) or not hasattr(x, "shape"):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(keras.config.floatx())
    else:
        x = keras.ops.convert_to_tensor(x)
        if "float" not in keras.backend.standardize_dtype(x.dtype):
            x = keras.ops.cast(x, keras.config.floatx())
    return preprocess(x, mode, channels_first=data_format == "channels_first")


def preprocess_for(model_name):
    """Returns the `preprocess_input` function of a registered model.

    Args:
        model_name: str. A registered model name.
    """
    mode = get_model_entry(model_name).preprocessing

    def preprocess_model_input(x, data_format=None):
        return preprocess_input(x, mode=mode, data_format=data_format)

    preprocess_model_input.__name__ = "preprocess_input"
    preprocess_model_input.__doc__ = (
        f"Preprocesses images for {model_name} (mode {mode})."
    )
    return preprocess_model_input


def imagenet_class_index():
    """Returns `{"0": [wnid, name], ...}`, downloaded once and hash-checked
    like weights (the file keras.applications uses)."""
    return read_json_file(
        fetch_weights_file(IMAGENET_CLASS_INDEX),
        "ImageNet's class index",
        MAX_CLASS_INDEX_BYTES,
    )


def decode_predictions(preds, top=5, class_names=None):
    """Turns a batch of class scores into `(class_id, name, score)` lists.

    Args:
        preds: array of shape `(samples, classes)`.
        top: int. How many classes per sample. Defaults to `5`.
        class_names: sequence of str or None. The class names; `None` means
            the 1000 ImageNet classes (keras.applications' index).
            Defaults to `None`.

    Returns:
        A list, per sample, of `(class_id, class_name, score)` tuples sorted
        by descending score, as in keras.applications.
    """
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    if class_names is None:
        index = imagenet_class_index()
        table = [tuple(index[str(i)]) for i in range(len(index))]
    else:
        table = [(str(i), str(n)) for i, n in enumerate(class_names)]
    if preds.ndim != 2 or preds.shape[1] != len(table):
        raise ValueError(
            f"`preds` must have shape (samples, {len(table)}); received {preds.shape}."
        )
    top = check_int("top", top, minimum=1, maximum=len(table))
    results = []
    for row in preds:
        order = np.argsort(row)[::-1][:top]
        results.append([table[i] + (float(row[i]),) for i in order])
    return results
