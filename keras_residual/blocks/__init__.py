"""Block registry and the built-in block families.

Importing a family module registers its blocks; a new family is one new
module here (plus its tests).
"""

from keras_residual.blocks import residual  # noqa: F401  (registers blocks)
from keras_residual.blocks import highway  # noqa: F401  isort: skip
from keras_residual.blocks import dense  # noqa: F401  isort: skip
from keras_residual.blocks.base import BLOCKS
from keras_residual.blocks.base import BlockCall
from keras_residual.blocks.base import BlockInfo
from keras_residual.blocks.base import LayerFactory
from keras_residual.blocks.base import get_block
from keras_residual.blocks.base import list_blocks
from keras_residual.blocks.base import register_block
from keras_residual.blocks.base import residual_add
from keras_residual.blocks.base import shortcut_path
