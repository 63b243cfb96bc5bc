"""The block registry, the stems and the built-in block families.

Importing a family module registers its blocks, stems and search family; a
new family is one new module here (plus its tests), or a module of the
user's own that calls `register_block`.
"""

# Registration order is listing and search-space order.
# isort: off
from keras_residual.blocks import residual  # noqa: F401
from keras_residual.blocks import highway  # noqa: F401
from keras_residual.blocks import dense  # noqa: F401
from keras_residual.blocks import plain  # noqa: F401
from keras_residual.blocks import resnext  # noqa: F401
from keras_residual.blocks import transformer  # noqa: F401

# isort: on
from keras_residual.blocks.base import BLOCKS
from keras_residual.blocks.base import BlockCall
from keras_residual.blocks.base import BlockInfo
from keras_residual.blocks.base import get_block
from keras_residual.blocks.base import list_blocks
from keras_residual.blocks.base import register_block
from keras_residual.blocks.base import residual_add
from keras_residual.blocks.base import shortcut_path
from keras_residual.blocks.layer_factory import LayerFactory
from keras_residual.blocks.search_family import SearchFamily
from keras_residual.blocks.search_family import get_search_family
from keras_residual.blocks.search_family import list_search_families
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.stems import STEMS
from keras_residual.blocks.stems import list_stems
from keras_residual.blocks.stems import register_stem
