"""timm / torchvision DenseNet-121/169/201 (and reduced variants):
`features.conv0` / `norm0`, `features.denseblock{i}.denselayer{j}.norm1` /
`conv1` / `norm2` / `conv2`, `features.transition{i}.norm` / `conv`,
`features.norm5`, `classifier` become the keras.applications names
`conv1_conv`, `conv{i+1}_block{j}_0_bn` / `_1_conv` / `_1_bn` / `_2_conv`,
`pool{i+1}_bn` / `_conv`, `bn`, `predictions`. torchvision's older files
(`norm.1`, `conv.2`) are renamed first, as torchvision itself does."""

import re

from keras_residual.blocks.dense import dense_stages
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StemSpec
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import classes_of
from keras_residual.weights.converters.base import register_converter
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

LAYER_MODULE = re.compile(r"^features\.denseblock(\d)\.denselayer(\d+)\.(\w+)$")
TRANSITION_MODULE = re.compile(r"^features\.transition(\d)\.(norm|conv)$")
LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
    r"running_mean|running_var))$"
)
LAYER_PARTS = {"norm1": "0_bn", "conv1": "1_conv", "norm2": "1_bn", "conv2": "2_conv"}


def normalize(state):
    """Renames torchvision's legacy keys (`denselayer1.norm.1.weight` ->
    `denselayer1.norm1.weight`).

    Args:
        state: dict. `{name: array}`.
    """
    renamed = {}
    for key, value in state.items():
        match = LEGACY_KEY.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    return renamed


def _layer_layer(match):
    stage, layer, part = match.groups()
    if part not in LAYER_PARTS:
        return None
    return f"conv{int(stage) + 1}_block{int(layer)}_{LAYER_PARTS[part]}"


def _transition_layer(match):
    stage, part = match.groups()
    return f"pool{int(stage) + 1}_{'bn' if part == 'norm' else 'conv'}"


layer_name = ModuleNames(
    {
        "features.conv0": "conv1_conv",
        "features.norm0": "conv1_bn",
        "features.norm5": "bn",
        "classifier": CLASSIFIER_LAYER,
    },
    ((LAYER_MODULE, _layer_layer), (TRANSITION_MODULE, _transition_layer)),
)


def describe(state):
    """The architecture of a DenseNet state dict.

    Args:
        state: dict. `{name: array}`.
    """
    stages = sorted(
        {
            int(m.group(1))
            for k in state
            if (m := LAYER_MODULE.match(k.rsplit(".", 1)[0]))
        }
    )
    blocks = [
        len(
            {
                k.split(".")[2]
                for k in state
                if k.startswith(f"features.denseblock{stage}.")
            }
        )
        for stage in stages
    ]
    first = "features.denseblock1.denselayer1"
    growth = int(state[f"{first}.conv2.weight"].shape[0])
    bottleneck = int(state[f"{first}.conv1.weight"].shape[0]) // growth
    conv = state["features.transition1.conv.weight"] if len(blocks) > 1 else None
    compression = 1.0 if conv is None else conv.shape[0] / conv.shape[1]
    spec = ModelSpec(
        stem=StemSpec("densenet", int(state["features.conv0.weight"].shape[0])),
        stages=tuple(dense_stages(blocks, growth, bottleneck, compression)),
        final_norm_prefix="",
        **TORCH_FIELDS,
    )
    return CheckpointArchitecture(
        family="densenet",
        spec=spec,
        classes=classes_of(state, "classifier.weight"),
        description=(
            f"timm/torchvision DenseNet, blocks {tuple(blocks)}, growth rate {growth}"
        ),
    )


register_converter(
    "densenet",
    required_keys={
        "features.conv0.weight",
        "features.denseblock1.denselayer1.conv2.weight",
        "features.norm5.running_var",
    },
    describe=describe,
    layer_name=layer_name,
    normalize=normalize,
)
