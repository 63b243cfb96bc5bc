"""timm `resnetv2_*` (pre-activation, BatchNorm; not the GroupNorm BiT
models): `stem.conv`, `stages.{i}.blocks.{j}.norm{1,2,3}` / `conv{1,2,3}` /
`downsample.conv`, `norm`, `head.fc` become `conv1_conv`,
`conv{i+2}_block{j+1}_preact_bn` / `_{k}_conv` / `_{k}_bn` / `_0_conv`,
`post_bn`, `predictions`. Unlike keras.applications ResNetV2, timm strides
the first block of a stage and pads the stem's max pool with `-inf`."""

import re

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import classes_of
from keras_residual.weights.converters.base import register_converter
from keras_residual.weights.converters.resnet import STAGE_STRIDES
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

BLOCK_MODULE = re.compile(r"^stages\.(\d)\.blocks\.(\d+)\.(.+)$")
# timm module in a block -> suffix of the Keras layer.
BLOCK_PARTS = {
    "norm1": "preact_bn",
    "conv1": "1_conv",
    "norm2": "1_bn",
    "conv2": "2_conv",
    "norm3": "2_bn",
    "conv3": "3_conv",
    "downsample.conv": "0_conv",
}


def _block_layer(match):
    stage, block, part = match.groups()
    if part not in BLOCK_PARTS:
        return None
    return f"conv{int(stage) + 2}_block{int(block) + 1}_{BLOCK_PARTS[part]}"


layer_name = ModuleNames(
    {"stem.conv": "conv1_conv", "norm": "post_bn", "head.fc": CLASSIFIER_LAYER},
    ((BLOCK_MODULE, _block_layer),),
)


def describe(state):
    """The architecture of a timm ResNetV2 state dict.

    Args:
        state: dict. `{name: array}`.
    """
    depths, widths = [], []
    for stage in range(4):
        prefix = f"stages.{stage}.blocks."
        depths.append(len({k.split(".")[3] for k in state if k.startswith(prefix)}))
        width = int(state[f"{prefix}0.conv1.weight"].shape[0])
        out = state[f"{prefix}0.conv3.weight"].shape[0]
        if out != 4 * width or state[f"{prefix}0.conv2.weight"].shape[1] != width:
            raise ValueError(
                f"This ResNetV2 state dict has stage {stage} widths {width} -> "
                f"{out}: a variant keras_residual does not build yet."
            )
        widths.append(width)
    spec = ModelSpec(
        stem=StemSpec(
            "imagenet",
            int(state["stem.conv.weight"].shape[0]),
            {"norm": False, "pool_padding": "ignore"},
        ),
        stages=tuple(
            StageSpec(depth, width, "preact_bottleneck", stride=stride)
            for depth, width, stride in zip(depths, widths, STAGE_STRIDES)
        ),
        final_norm_prefix="post",
        **TORCH_FIELDS,
    )
    return CheckpointArchitecture(
        family="resnet_v2",
        spec=spec,
        classes=classes_of(state, "head.fc.weight"),
        description=f"timm ResNetV2, depths {tuple(depths)}, widths {tuple(widths)}",
    )


register_converter(
    "resnet_v2",
    required_keys={
        "stem.conv.weight",
        "stages.0.blocks.0.norm1.running_var",
        "stages.3.blocks.0.conv3.weight",
        "norm.running_var",
    },
    describe=describe,
    layer_name=layer_name,
)
