"""timm / torchvision ResNet-18/34/50/101/152 ("v1.5": stride on the 3x3,
bias-free convs, BatchNorm epsilon 1e-5). Keys `conv1`, `bn1`,
`layer{i}.{j}.conv{k}` / `bn{k}`, `downsample.0/1`, `fc` become the
keras.applications names `conv1_conv`, `conv{i+1}_block{j+1}_{k}_conv`, ...
"""

import re

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import classes_of
from keras_residual.weights.converters.base import register_converter
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

BLOCK_MODULE = re.compile(r"^layer(\d)\.(\d+)\.(conv|bn)([123])$")
DOWNSAMPLE_MODULE = re.compile(r"^layer(\d)\.(\d+)\.downsample\.([01])$")
# The settings of every PyTorch ResNet and DenseNet: bias-free convs, BN
# epsilon 1e-5 and momentum 0.1 (Keras' 0.9).
TORCH_FIELDS = {"use_bias": False, "bn_epsilon": 1e-5, "bn_momentum": 0.9}
STAGE_STRIDES = (1, 2, 2, 2)


def _block_layer(match):
    stage, block, kind, index = match.groups()
    return f"conv{int(stage) + 1}_block{int(block) + 1}_{index}_{kind}"


def _downsample_layer(match):
    stage, block, index = match.groups()
    kind = "conv" if index == "0" else "bn"
    return f"conv{int(stage) + 1}_block{int(block) + 1}_0_{kind}"


layer_name = ModuleNames(
    {"conv1": "conv1_conv", "bn1": "conv1_bn", "fc": CLASSIFIER_LAYER},
    ((BLOCK_MODULE, _block_layer), (DOWNSAMPLE_MODULE, _downsample_layer)),
)


def describe(state):
    """The architecture of a ResNet state dict.

    Args:
        state: dict. `{name: array}`.
    """
    bottleneck = "layer1.0.conv3.weight" in state
    depths, widths = [], []
    for stage in range(1, 5):
        depths.append(
            len({k.split(".")[1] for k in state if k.startswith(f"layer{stage}.")})
        )
        width = state[f"layer{stage}.0.conv1.weight"].shape[0]
        widths.append(int(width))
        last = "conv3" if bottleneck else "conv2"
        out = state[f"layer{stage}.0.{last}.weight"].shape[0]
        inner = state[f"layer{stage}.0.conv2.weight"].shape[1]
        if out != width * (4 if bottleneck else 1) or inner != width:
            raise ValueError(
                f"This ResNet state dict has stage {stage} widths {width} -> "
                f"{out} with {inner} channels per 3x3 group: a wide or "
                "grouped (ResNeXt) variant keras_residual does not build yet."
            )
    block = "bottleneck" if bottleneck else "basic"
    args = {"padding": "symmetric"}
    if bottleneck:
        args["stride_on"] = "3x3"
    spec = ModelSpec(
        stem=StemSpec("imagenet", int(state["conv1.weight"].shape[0])),
        stages=tuple(
            StageSpec(depth, width, block, stride=stride, args=args)
            for depth, width, stride in zip(depths, widths, STAGE_STRIDES)
        ),
        **TORCH_FIELDS,
    )
    return CheckpointArchitecture(
        family="resnet",
        spec=spec,
        classes=classes_of(state, "fc.weight"),
        description=(
            f"timm/torchvision ResNet, {block} blocks, depths {tuple(depths)}, "
            f"widths {tuple(widths)}"
        ),
    )


register_converter(
    "resnet",
    required_keys={"conv1.weight", "layer1.0.conv1.weight", "layer4.0.conv1.weight"},
    describe=describe,
    layer_name=layer_name,
)
