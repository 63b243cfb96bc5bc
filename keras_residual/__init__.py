"""keras_residual: ResNet v1/v2, ResNeXt, SE, highway, DenseNet and ViT
families for Keras 3.

Every model comes from one block registry and one Functional-API builder.
This module is the public API only: it re-exports names from the
subpackages (see docs/architecture.md). `import keras_residual` imports
them all (so every Keras object a `.keras` file names is registered),
except in the `keras-residual` command line, which imports what each
command needs, so that `--help` answers without loading TensorFlow.
"""

import functools
import os
import sys

from keras_residual.utils.deprecation import alias_moved_modules
from keras_residual.utils.deprecation import moved_attribute
from keras_residual.utils.lazy_exports import import_exports
from keras_residual.utils.lazy_exports import lazy_exports
from keras_residual.version import __version__

# Every public name, by the module that defines it (`search` is the
# subpackage, callable as `search(dataset, out, ...)`).
_PUBLIC = {
    "attention_rollout": "keras_residual.analysis.saliency",
    "AudioFrontEnd": "keras_residual.core.front_end",
    "build": "keras_residual.models.zoo",
    "ClassificationCrossentropy": "keras_residual.training.losses",
    "count_flops": "keras_residual.analysis.flops",
    "create_model": "keras_residual.models.create",
    "DataOptions": "keras_residual.data.options",
    "decode_predictions": "keras_residual.models.preprocessing",
    "DenseNet121": "keras_residual.models.densenet",
    "DenseNet169": "keras_residual.models.densenet",
    "DenseNet201": "keras_residual.models.densenet",
    "DenseNet40": "keras_residual.models.densenet",
    "DenseNetBC100": "keras_residual.models.densenet",
    "DenseNetBC250": "keras_residual.models.densenet",
    "DistributionOptions": "keras_residual.training.options",
    "DropPath": "keras_residual.layers",
    "explain": "keras_residual.analysis.saliency",
    "export": "keras_residual.serving.export",
    "from_checkpoint": "keras_residual.models.checkpoints",
    "from_keras_hub": "keras_residual.hub.keras_hub",
    "get_block": "keras_residual.blocks",
    "get_recipe": "keras_residual.training.recipe_presets",
    "get_spec": "keras_residual.models.zoo",
    "grad_cam": "keras_residual.analysis.saliency",
    "HighwayNet110": "keras_residual.models.highway",
    "HighwayNet19": "keras_residual.models.highway",
    "HighwayNet20": "keras_residual.models.highway",
    "HighwayNet56": "keras_residual.models.highway",
    "list_blocks": "keras_residual.blocks",
    "list_heads": "keras_residual.core.heads",
    "list_models": "keras_residual.models.discovery",
    "list_recipes": "keras_residual.training.recipe_presets",
    "list_search_families": "keras_residual.blocks",
    "list_stems": "keras_residual.blocks",
    "list_weights": "keras_residual.models.discovery",
    "load_data": "keras_residual.data.loader",
    "LoadOptions": "keras_residual.data.load_options",
    "LRFindOptions": "keras_residual.training.options",
    "load_predictor": "keras_residual.serving.predictor",
    "load_preset": "keras_residual.hub.preset_format",
    "load_weights": "keras_residual.weights",
    "lr_find": "keras_residual.training.lr_find",
    "ModelSpec": "keras_residual.core.spec",
    "PlainNet20": "keras_residual.models.cifar",
    "PlainNet56": "keras_residual.models.cifar",
    "PreActResNet164": "keras_residual.models.cifar",
    "Preprocessing": "keras_residual.core.preprocessing",
    "preprocess_for": "keras_residual.models.preprocessing",
    "preprocess_input": "keras_residual.models.preprocessing",
    "push_to_hub": "keras_residual.hub.push",
    "pyramid_model": "keras_residual.models.features",
    "Recipe": "keras_residual.training.recipe",
    "register_block": "keras_residual.blocks",
    "register_final_norm": "keras_residual.core.heads",
    "register_head": "keras_residual.core.heads",
    "register_model": "keras_residual.models.zoo",
    "register_recipe": "keras_residual.training.recipe_presets",
    "register_search_family": "keras_residual.blocks",
    "register_stem": "keras_residual.blocks",
    "register_weights": "keras_residual.weights",
    "ResidualModel": "keras_residual.core.builder",
    "ResNet101": "keras_residual.models.resnet",
    "ResNet101V2": "keras_residual.models.resnet_v2",
    "ResNet110": "keras_residual.models.cifar",
    "ResNet152": "keras_residual.models.resnet",
    "ResNet152V2": "keras_residual.models.resnet_v2",
    "ResNet18": "keras_residual.models.resnet",
    "ResNet20": "keras_residual.models.cifar",
    "ResNet32": "keras_residual.models.cifar",
    "ResNet34": "keras_residual.models.resnet",
    "ResNet44": "keras_residual.models.cifar",
    "ResNet50": "keras_residual.models.resnet",
    "ResNet50D": "keras_residual.models.resnet_d",
    "ResNet50V2": "keras_residual.models.resnet_v2",
    "ResNet56": "keras_residual.models.cifar",
    "ResNeXt101_32x8d": "keras_residual.models.resnext",
    "ResNeXt50_32x4d": "keras_residual.models.resnext",
    "resolve_precision": "keras_residual.training.precision",
    "RunOptions": "keras_residual.training.options",
    "save_overlays": "keras_residual.analysis.saliency",
    "save_to_preset": "keras_residual.hub.preset_writer",
    "search": "keras_residual.search",
    "SEResNet50": "keras_residual.models.senet",
    "set_precision": "keras_residual.training.precision",
    "StageSpec": "keras_residual.core.spec",
    "StemSpec": "keras_residual.core.spec",
    "to_keras_hub": "keras_residual.hub.keras_hub",
    "train": "keras_residual.training.train",
    "ViTBase16": "keras_residual.models.vit",
    "ViTSmall16": "keras_residual.models.vit",
    "ViTTiny16": "keras_residual.models.vit",
    "WeightsFile": "keras_residual.utils.download",
    "ZeroPadShortcut": "keras_residual.layers",
}
__all__ = sorted(_PUBLIC, key=str.lower)

# 0.1 names that moved to a namespace: they still import, with a warning.
_MOVED = {
    **dict.fromkeys(
        ("BlockCall", "BlockInfo", "LayerFactory", "residual_add", "shortcut_path"),
        "keras_residual.blocks",
    ),
    "plan_blocks": "keras_residual.core",
    **dict.fromkeys(
        ("GateTelemetry", "gate_activations", "plot_gate_activations"),
        "keras_residual.analysis",
    ),
}


# 0.2 modules that moved (the Hub's into `keras_residual.hub`): importing
# the old path still works, with a warning.
MOVED_MODULES = {
    "keras_residual.utils.hub": "keras_residual.hub.files",
    "keras_residual.weights.hub_ids": "keras_residual.hub.ids",
    "keras_residual.weights.presets": "keras_residual.hub.preset_format",
    "keras_residual.serving.presets": "keras_residual.hub.preset_writer",
    "keras_residual.serving.hub_push": "keras_residual.hub.push",
    "keras_residual.models.keras_hub_interop": "keras_residual.hub.keras_hub",
    "keras_residual.weights.resolve": "keras_residual.models.weights_request",
    "keras_residual.training.presets": "keras_residual.training.recipe_presets",
}
alias_moved_modules(MOVED_MODULES)

# (A partial, not a lambda: the moved name's warning points at the caller.)
__getattr__, __dir__ = lazy_exports(
    __name__,
    _PUBLIC,
    fallback=functools.partial(moved_attribute, __name__, moved=_MOVED),
)


def _is_command_line():
    """Whether this process is the `keras-residual` command line (its
    console script, or `python -m keras_residual.cli`)."""
    if os.path.basename(sys.argv[0]) in ("keras-residual", "keras-residual.exe"):
        return True
    arguments = list(getattr(sys, "orig_argv", ()))
    return any(
        flag == "-m" and module in ("keras_residual.cli", "keras_residual")
        for flag, module in zip(arguments, arguments[1:])
    )


if not _is_command_line():
    import_exports(__name__)
