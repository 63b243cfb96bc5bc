"""Test-time augmentation: a classifier's probabilities averaged over
transformed views of each image."""

import numpy as np

from keras_residual.utils.validation import check_choice

TTA_MODES = ("none", "flip")


def tta_views(images, tta):
    """The views of a batch of channels-last images that `tta` averages
    over: the images, and with `"flip"` their mirror images too.

    Args:
        images: array. `(batch, height, width, channels)`.
        tta: str. `"none"` or `"flip"`.
    """
    check_choice("tta", tta, TTA_MODES)
    views = [images]
    if tta == "flip":
        views.append(np.ascontiguousarray(images[:, :, ::-1]))
    return views


def tta_probabilities(predict, images, tta="none"):
    """The mean of `predict` over the views of `images`.

    Args:
        predict: callable. A batch to class probabilities (NumPy).
        images: array. `(batch, height, width, channels)`.
        tta: str. `"none"` or `"flip"` (left-right mirror, as the
            training's flips). Defaults to `"none"`.
    """
    views = tta_views(np.asarray(images), tta)
    return np.mean([np.asarray(predict(view)) for view in views], axis=0)
