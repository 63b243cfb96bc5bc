"""The model core: declarative specs, the one Functional-API builder, the
classifier heads and the input preprocessing modes."""

from keras_residual.core.builder import ResidualModel
from keras_residual.core.builder import build_backbone
from keras_residual.core.builder import plan_blocks
from keras_residual.core.heads import head_outputs_logits
from keras_residual.core.heads import is_classifier
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.core.preprocessing import preprocess
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
