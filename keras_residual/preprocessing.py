"""`preprocess_input` and `decode_predictions`, keras.applications-style.

Each registered model names a keras.applications preprocessing mode:
`"caffe"` (ResNet v1: BGR, ImageNet mean subtracted), `"tf"` (ResNetV2 and
the CIFAR nets: scaled to [-1, 1]) or `"torch"` (DenseNet: [0, 1], then
ImageNet mean and std).
"""

import json

import keras
import numpy as np

from keras_residual.validation import check_choice
from keras_residual.validation import check_int
from keras_residual.weights import WeightsFile
from keras_residual.weights import fetch_weights_file

MODES = ("caffe", "tf", "torch")

IMAGENET_CLASS_INDEX = WeightsFile(
    url="https://storage.googleapis.com/download.tensorflow.org/data/"
    "imagenet_class_index.json",
    file_hash="c2c37ea517e94d9795004a39431a14cb",
)


def preprocess_input(x, mode="caffe", data_format=None):
    """Scales a batch of RGB images in [0, 255] for a model family.

    Args:
        x: array or tensor. Images, channels last.
        mode: str. `"caffe"`, `"tf"` or `"torch"`. Defaults to `"caffe"`.
        data_format: str or None. Defaults to the Keras setting.
    """
    check_choice("mode", mode, MODES)
    return keras.applications.imagenet_utils.preprocess_input(
        x, data_format=data_format, mode=mode
    )


def preprocess_for(model_name):
    """Returns the `preprocess_input` function of a registered model."""
    from keras_residual.zoo import get_model_entry

    mode = get_model_entry(model_name).preprocessing

    def preprocess(x, data_format=None):
        return preprocess_input(x, mode=mode, data_format=data_format)

    preprocess.__doc__ = f"Preprocesses images for {model_name} (mode {mode!r})."
    return preprocess


def imagenet_class_index():
    """Returns `{"0": [wnid, name], ...}`, downloaded once and hash-checked
    like weights (the file keras.applications uses)."""
    with open(fetch_weights_file(IMAGENET_CLASS_INDEX)) as handle:
        return json.load(handle)


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
            "`preds` must have shape (samples, "
            f"{len(table)}); received {preds.shape}."
        )
    top = check_int("top", top, minimum=1, maximum=len(table))
    results = []
    for row in preds:
        order = np.argsort(row)[::-1][:top]
        results.append([table[i] + (float(row[i]),) for i in order])
    return results
