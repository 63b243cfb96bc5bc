"""keras-hub's `ResNetBackbone` here: ResNet (v1.5 `basic_block`,
`bottleneck_block`), ResNet-vd (`*_block_vd`: deep stem, average-pool
shortcuts) and ResNetV2 (`use_pre_activation=True`), all in PyTorch's
layout (stride on the 3x3, explicit padding, BatchNorm epsilon 1e-5).
keras-hub's `stack{i}_block{j}_*` is `conv{i+2}_block{j+1}_*` here."""

import re

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.hub.keras_hub import KerasHubFamily
from keras_residual.hub.keras_hub import register_keras_hub_family
from keras_residual.hub.keras_hub import rename_layers
from keras_residual.weights.converters.resnet import TORCH_FIELDS

BLOCK_LAYER = re.compile(r"^stack(\d+)_block(\d+)_(.+)$")
# keras-hub's vd stem (three 3x3 convs) -> the deep stem's layer names.
VD_STEM = {
    "conv1_conv": "conv1_1_conv",
    "conv1_bn": "conv1_1_bn",
    "conv2_conv": "conv1_2_conv",
    "conv2_bn": "conv1_2_bn",
    "conv3_conv": "conv1_3_conv",
    "conv3_bn": "conv1_bn",
}
HUB_BLOCKS = {
    "basic_block": "basic",
    "bottleneck_block": "bottleneck",
    "basic_block_vd": "basic",
    "bottleneck_block_vd": "bottleneck",
}
STEMS = {((64,), (7,)): "imagenet", ((32, 32, 64), (3, 3, 3)): "deep"}


def spec_from_config(config):
    """The `ModelSpec` of a keras-hub `ResNetBackbone` config.

    Args:
        config: dict. `ResNetBackbone.get_config()`.
    """
    block_type = config["block_type"]
    vd = block_type.endswith("_vd")
    preact = bool(config.get("use_pre_activation"))
    key = (
        tuple(config["input_conv_filters"]),
        tuple(config["input_conv_kernel_sizes"]),
    )
    if key not in STEMS or (preact and vd):
        raise ValueError(
            f"This keras-hub ResNetBackbone has a stem of filters {key[0]} and "
            f"kernels {key[1]}{' with pre-activation' if preact else ''}; "
            "keras_residual builds the 7x7 stem (64) and, without "
            "pre-activation, the vd stem (32, 32, 64)."
        )
    stem = StemSpec(STEMS[key], 64)
    if preact:
        stem = StemSpec("imagenet", 64, {"norm": False, "pool_padding": "ignore"})
    block = ("preact_" if preact else "") + HUB_BLOCKS[block_type]
    # preact_bottleneck pads its strided 3x3 symmetrically by itself.
    args = {} if block == "preact_bottleneck" else {"padding": "symmetric"}
    if block == "bottleneck":
        args["stride_on"] = "3x3"
    if vd:
        args["avg_down"] = True
    if block_type == "basic_block_vd":  # projects in stack 0 too
        args["project_first"] = True
    stages = tuple(
        StageSpec(depth, filters, block, stride=stride, args=dict(args))
        for depth, filters, stride in zip(
            config["stackwise_num_blocks"],
            config["stackwise_num_filters"],
            config["stackwise_num_strides"],
        )
    )
    final_norm = {"final_norm_prefix": "post"} if preact else {}
    return ModelSpec(stem=stem, stages=stages, **final_norm, **TORCH_FIELDS)


def config_from_spec(spec):
    """The `ResNetBackbone` arguments of `spec`, or None where it has no
    single ResNet block type and a 64-filter stem.

    Args:
        spec: `ModelSpec`.
    """
    blocks = {stage.block for stage in spec.stages}
    plain = blocks.pop().removeprefix("preact_") if len(blocks) == 1 else None
    if plain not in ("basic", "bottleneck") or spec.stem.filters != 64:
        return None
    vd = spec.stem.kind == "deep"
    return {
        "input_conv_filters": [32, 32, 64] if vd else [64],
        "input_conv_kernel_sizes": [3, 3, 3] if vd else [7],
        "stackwise_num_filters": [s.filters for s in spec.stages],
        "stackwise_num_blocks": [s.depth for s in spec.stages],
        "stackwise_num_strides": [s.stride for s in spec.stages],
        "block_type": f"{plain}_block{'_vd' if vd else ''}",
        "use_pre_activation": spec.stages[0].block.startswith("preact_"),
    }


def variable_name(config):
    """A function from a keras-hub variable path to ours, for `config`.

    Args:
        config: dict. A keras-hub `ResNetBackbone` config.
    """
    vd = config["block_type"].endswith("_vd")

    def rename(hub_name):
        match = BLOCK_LAYER.match(hub_name)
        if match:
            stack, block, rest = match.groups()
            rest = "preact_bn" if rest == "pre_activation_bn" else rest
            return f"conv{int(stack) + 2}_block{int(block) + 1}_{rest}"
        return VD_STEM.get(hub_name, hub_name) if vd else hub_name

    return rename_layers(rename)


register_keras_hub_family(
    KerasHubFamily(
        "ResNetBackbone",
        spec_from_config,
        config_from_spec,
        variable_name,
        "ResNet v1.5, ResNet-vd and ResNetV2 in PyTorch's layout: the stride "
        "on the 3x3 conv, explicit padding, BatchNorm epsilon 1e-5, 64 stem "
        "filters, no SE or groups, as from_checkpoint() builds timm's "
        "resnet*/resnetv2_*",
    )
)
