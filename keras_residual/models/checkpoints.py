"""Building the network a PyTorch checkpoint (timm, torchvision) holds."""

import os

from keras_residual.core.application import application_function
from keras_residual.models.zoo import build
from keras_residual.weights.converters import read_checkpoint


@application_function(leading=("path",), omit=("weights",))
def from_checkpoint(path, name=None, **arguments):
    """Builds the Keras network a timm/torchvision state dict describes
    (ResNet-18 to 152, timm ResNetV2, DenseNet) and loads it, all or
    nothing. Its depths, widths and layout (padding, stride placement,
    BatchNorm epsilon) come from the file.

    Args:
        path: str. A `.safetensors` file, or a `torch.save` state dict
            (`.pth`, needs `torch`).
        include_top: bool. Keep the classifier. Defaults to `True`.
        input_shape: tuple or None. `(height, width, channels)`; RGB
            weights are adapted to 1 or N channels. Defaults to
            `(224, 224, 3)` with the top, `(None, None, 3)` without.
        input_tensor: tensor or None. Optional input tensor.
        pooling: None, `"avg"` or `"max"`. Pooling for `include_top=False`.
        classes: int or None. Defaults to the checkpoint's; another number
            gets a new classifier (with a warning).
        classifier_activation: str or None. Defaults to `"softmax"`; None
            returns logits, as PyTorch models do.
        name: str or None. Defaults to the checkpoint's family.
        preprocessing: str or None. The input preprocessing the model
            records (`"torch"` for timm and torchvision ImageNet weights).
            Defaults to `None`.
        **overrides: `build()` overrides that keep the weights' shapes,
            such as `drop_path_rate`.
    """
    # Names and shapes describe the network; build() reads the tensors.
    architecture = read_checkpoint(os.fspath(path), tensors=False).architecture
    return build(
        architecture.spec,
        weights=path,
        name=name or architecture.family,
        **arguments,
    )
