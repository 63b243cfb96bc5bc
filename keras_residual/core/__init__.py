"""The model core: declarative specs, the one Functional-API builder, the
classifier heads and the input preprocessing modes."""

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "ResidualModel": "keras_residual.core.builder",
    "build_backbone": "keras_residual.core.builder",
    "plan_blocks": "keras_residual.core.builder",
    "head_outputs_logits": "keras_residual.core.heads",
    "is_classifier": "keras_residual.core.heads",
    "PREPROCESSING_MODES": "keras_residual.core.preprocessing",
    "Preprocessing": "keras_residual.core.preprocessing",
    "as_preprocessing": "keras_residual.core.preprocessing",
    "preprocess": "keras_residual.core.preprocessing",
    "ModelSpec": "keras_residual.core.spec",
    "StageSpec": "keras_residual.core.spec",
    "StemSpec": "keras_residual.core.spec",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
