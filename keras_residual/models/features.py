"""Multi-level feature extraction for detection and segmentation users."""

import keras

from keras_residual.core.builder import ResidualModel
from keras_residual.models.zoo import build
from keras_residual.utils.validation import unknown_name_message


def pyramid_model(model, levels=None, name=None):
    """Returns a model mapping images to a dict of multi-level features.

    The features are the last block output at each stride `2**k`, keyed
    `"P{k}"` like keras-hub's `pyramid_outputs` (ResNet50: `P2`..`P5` =
    `conv2_block3_out` .. `conv5_block3_out`).

    Args:
        model: `ResidualModel` or str. A built model, or a registered name
            (built with `include_top=False` and no weights).
        levels: sequence of str or None. The levels to keep, e.g.
            `("P3", "P4", "P5")`. Defaults to all.
        name: str or None. Name of the returned model. Defaults to
            `"{model.name}_pyramid"`.

    Example:

    ```python
    backbone = keras_residual.ResNet50(include_top=False, weights=None)
    features = keras_residual.pyramid_model(backbone, levels=("P3", "P4", "P5"))
    outputs = features(images)  # {"P3": ..., "P4": ..., "P5": ...}
    ```
    """
    if isinstance(model, str):
        model = build(model, include_top=False)
    if not isinstance(model, ResidualModel):
        raise TypeError(
            "`model` must be a keras_residual model or a registered name; "
            f"received {type(model).__name__}."
        )
    pyramid = model.pyramid_outputs
    if levels is None:
        levels = list(pyramid)
    for level in levels:
        if level not in pyramid:
            raise ValueError(
                unknown_name_message("levels", level, pyramid, kind="pyramid level")
            )
    outputs = {level: pyramid[level] for level in levels}
    return keras.Model(model.input, outputs, name=name or f"{model.name}_pyramid")
