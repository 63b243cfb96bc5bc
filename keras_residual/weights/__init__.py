"""Pretrained weights: the registry, reading and writing HDF5 weight files
(all or nothing), the PyTorch converters and the digits weights shipped in
`pretrained/`. Resolving `weights=` lives in `models/weights_request.py`
(it reads the Hub's presets too, `keras_residual.hub`)."""

from keras_residual.utils.download import WeightsFile
from keras_residual.utils.lazy_exports import lazy_exports
from keras_residual.weights.digits import DIGITS_WEIGHTS
from keras_residual.weights.digits import FASHION_MNIST_WEIGHTS
from keras_residual.weights.hdf5 import load_weights
from keras_residual.weights.hdf5 import save_legacy_weights
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import register_keras_applications_weights
from keras_residual.weights.registry import register_weights
from keras_residual.weights.registry import unregister_weights

# Defined in the layer above, imported when first used: `list_weights` is
# `kr.list_weights` (each model's top-1, source and size per tag).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "list_weights": "keras_residual.models.discovery",
        "load_requested_weights": "keras_residual.models.weights_request",
        "resolve_weights": "keras_residual.models.weights_request",
    },
)
