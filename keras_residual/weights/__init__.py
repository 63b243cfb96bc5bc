"""Pretrained weights: the registry, resolving `weights=`, reading and
writing HDF5 weight files (all or nothing), and the digits weights shipped
in `pretrained/`."""

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
from keras_residual.weights.resolve import load_requested_weights
from keras_residual.weights.resolve import resolve_weights

# `kr.weights.list_weights` is `kr.list_weights` (with each model's top-1,
# source and size), defined in the layer above, imported when first used.
__getattr__, __dir__ = lazy_exports(
    __name__, {"list_weights": "keras_residual.models.discovery"}
)
