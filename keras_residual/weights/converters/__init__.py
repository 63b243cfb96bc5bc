"""Converters from PyTorch state dicts (timm, torchvision) to keras_residual
models: one module per family, registered on import."""

from keras_residual.weights.converters import densenet
from keras_residual.weights.converters import resnet
from keras_residual.weights.converters import resnet_v2
from keras_residual.weights.converters import vit
from keras_residual.weights.converters.base import CONVERTERS
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import TorchCheckpoint
from keras_residual.weights.converters.base import checkpoint_assignments
from keras_residual.weights.converters.base import load_checkpoint
from keras_residual.weights.converters.base import read_checkpoint
from keras_residual.weights.converters.base import register_converter
