"""The serializable custom layers the blocks use, registered under
`keras_residual>Name` so that `.keras` files reload with `safe_mode=True`.
Backend-agnostic (`keras.ops` only), except `BatchNormalization`'s
TensorFlow fast path for training steps."""

from keras_residual.layers.batch_norm import BatchNormalization
from keras_residual.layers.drop_path import DropPath
from keras_residual.layers.gate import HighwayGate
from keras_residual.layers.grouped_conv import GroupedConv1D
from keras_residual.layers.grouped_conv import GroupedConv2D
from keras_residual.layers.padding import PoolPadding2D
from keras_residual.layers.remat import MemoryEfficientBottleneck
from keras_residual.layers.shortcuts import ZeroPadShortcut
from keras_residual.layers.tokens import ClassToken
from keras_residual.layers.tokens import LayerScale
from keras_residual.layers.tokens import PositionEmbedding
from keras_residual.layers.tokens import TokenPooling
from keras_residual.layers.tokens import TokensToGrid

__all__ = [
    "DropPath",
    "BatchNormalization",
    "ClassToken",
    "LayerScale",
    "PositionEmbedding",
    "TokenPooling",
    "TokensToGrid",
    "GroupedConv1D",
    "GroupedConv2D",
    "HighwayGate",
    "MemoryEfficientBottleneck",
    "PoolPadding2D",
    "ZeroPadShortcut",
]
