"""keras_residual: ResNet v1/v2, ResNeXt, SE, highway, DenseNet and ViT
families for Keras 3.

Every model comes from one block registry and one Functional-API builder.
This module is the public API only: it re-exports names from the
subpackages (see docs/architecture.md).
"""

from keras_residual import search  # callable: search(dataset, out, ...)
from keras_residual.analysis.flops import count_flops
from keras_residual.analysis.saliency import attention_rollout
from keras_residual.analysis.saliency import explain
from keras_residual.analysis.saliency import grad_cam
from keras_residual.analysis.saliency import save_overlays
from keras_residual.blocks import get_block
from keras_residual.blocks import list_blocks
from keras_residual.blocks import list_search_families
from keras_residual.blocks import list_stems
from keras_residual.blocks import register_block
from keras_residual.blocks import register_search_family
from keras_residual.blocks import register_stem
from keras_residual.core.builder import ResidualModel
from keras_residual.core.heads import list_heads
from keras_residual.core.heads import register_final_norm
from keras_residual.core.heads import register_head
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.data.loader import load_data
from keras_residual.data.options import DataOptions
from keras_residual.layers import DropPath
from keras_residual.layers import ZeroPadShortcut
from keras_residual.models.checkpoints import from_checkpoint
from keras_residual.models.cifar import PlainNet20
from keras_residual.models.cifar import PlainNet56
from keras_residual.models.cifar import PreActResNet164
from keras_residual.models.cifar import ResNet20
from keras_residual.models.cifar import ResNet32
from keras_residual.models.cifar import ResNet44
from keras_residual.models.cifar import ResNet56
from keras_residual.models.cifar import ResNet110
from keras_residual.models.create import create_model
from keras_residual.models.densenet import DenseNet40
from keras_residual.models.densenet import DenseNet121
from keras_residual.models.densenet import DenseNet169
from keras_residual.models.densenet import DenseNet201
from keras_residual.models.densenet import DenseNetBC100
from keras_residual.models.densenet import DenseNetBC250
from keras_residual.models.discovery import list_models
from keras_residual.models.discovery import list_weights
from keras_residual.models.features import pyramid_model
from keras_residual.models.highway import HighwayNet19
from keras_residual.models.highway import HighwayNet20
from keras_residual.models.highway import HighwayNet56
from keras_residual.models.highway import HighwayNet110
from keras_residual.models.keras_hub_interop import from_keras_hub
from keras_residual.models.keras_hub_interop import to_keras_hub
from keras_residual.models.preprocessing import decode_predictions
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.preprocessing import preprocess_input
from keras_residual.models.resnet import ResNet18
from keras_residual.models.resnet import ResNet34
from keras_residual.models.resnet import ResNet50
from keras_residual.models.resnet import ResNet101
from keras_residual.models.resnet import ResNet152
from keras_residual.models.resnet_d import ResNet50D
from keras_residual.models.resnet_v2 import ResNet50V2
from keras_residual.models.resnet_v2 import ResNet101V2
from keras_residual.models.resnet_v2 import ResNet152V2
from keras_residual.models.resnext import ResNeXt50_32x4d
from keras_residual.models.resnext import ResNeXt101_32x8d
from keras_residual.models.senet import SEResNet50
from keras_residual.models.vit import ViTBase16
from keras_residual.models.vit import ViTSmall16
from keras_residual.models.vit import ViTTiny16
from keras_residual.models.zoo import build
from keras_residual.models.zoo import get_spec
from keras_residual.models.zoo import register_model
from keras_residual.serving.export import export
from keras_residual.serving.hub_push import push_to_hub
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.presets import save_to_preset
from keras_residual.training.losses import ClassificationCrossentropy
from keras_residual.training.lr_find import lr_find
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import RunOptions
from keras_residual.training.precision import resolve_precision
from keras_residual.training.precision import set_precision
from keras_residual.training.presets import get_recipe
from keras_residual.training.presets import list_recipes
from keras_residual.training.presets import register_recipe
from keras_residual.training.recipe import Recipe
from keras_residual.training.train import train
from keras_residual.utils.deprecation import moved_attribute
from keras_residual.utils.download import WeightsFile
from keras_residual.version import __version__
from keras_residual.weights import load_weights
from keras_residual.weights import register_weights
from keras_residual.weights.presets import load_preset

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


def __getattr__(name):
    return moved_attribute(__name__, name, _MOVED)
