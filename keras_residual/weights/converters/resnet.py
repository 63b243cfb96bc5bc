"""timm / torchvision ResNet-18/34/50/101/152 ("v1.5": stride on the 3x3,
bias-free convs, BatchNorm epsilon 1e-5) and the variants of the same
state-dict layout: ResNeXt (grouped `conv2`, `resnext50_32x4d`), SE-ResNet
(`se.fc1/fc2`, `seresnet50`) and ResNet-D (deep stem `conv1.0/3/6`, average-
pool shortcuts `downsample.1/2`, `resnet50d`). Keys `conv1`, `bn1`,
`layer{i}.{j}.conv{k}` / `bn{k}`, `downsample.0/1`, `se.fc1/fc2`, `fc`
become the keras.applications names `conv1_conv`,
`conv{i+1}_block{j+1}_{k}_conv`, ..., `_se_reduce`, `_se_expand`.
"""

import re

from keras_residual.blocks.attention import se_channels
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import classes_of
from keras_residual.weights.converters.base import register_converter
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

BLOCK_MODULE = re.compile(r"^layer(\d)\.(\d+)\.(conv|bn)([123])$")
# `downsample_avg` is timm's avg_down shortcut (`downsample.1/2` after its
# parameter-free pool), renamed by `normalize`.
DOWNSAMPLE_MODULE = re.compile(r"^layer(\d)\.(\d+)\.downsample(?:_avg)?\.([01])$")
SE_MODULE = re.compile(r"^layer(\d)\.(\d+)\.se\.fc([12])$")
# timm's deep stem (`stem_type="deep"`): conv, BN, ReLU, conv, BN, ReLU, conv.
DEEP_STEM = {
    "conv1.0": "conv1_1_conv",
    "conv1.1": "conv1_1_bn",
    "conv1.3": "conv1_2_conv",
    "conv1.4": "conv1_2_bn",
    "conv1.6": "conv1_3_conv",
}
AVG_DOWN = re.compile(r"^(layer\d\.\d+)\.downsample\.([12])\.(.+)$")
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


def _se_layer(match):
    stage, block, index = match.groups()
    part = "reduce" if index == "1" else "expand"
    return f"conv{int(stage) + 1}_block{int(block) + 1}_se_{part}"


layer_name = ModuleNames(
    {"conv1": "conv1_conv", "bn1": "conv1_bn", "fc": CLASSIFIER_LAYER, **DEEP_STEM},
    (
        (BLOCK_MODULE, _block_layer),
        (DOWNSAMPLE_MODULE, _downsample_layer),
        (SE_MODULE, _se_layer),
    ),
)


def normalize(state):
    """Renames timm's avg_down shortcut `downsample.1/2` (conv, BN after a
    parameter-free pool) to `downsample_avg.0/1`, so that a plain
    `downsample.0/1` stays unambiguous.

    Args:
        state: dict. `{name: array}`.
    """
    if not any(".downsample.2." in key for key in state):
        return state
    renamed = {}
    for key, value in state.items():
        match = AVG_DOWN.match(key)
        if match:
            block, index, tensor = match.groups()
            key = f"{block}.downsample_avg.{int(index) - 1}.{tensor}"
        renamed[key] = value
    return renamed


def _stage_args(state, stage, bottleneck):
    """The block, its args and the stage width of stage `stage` (1-4):
    plain, grouped (ResNeXt) or with SE, as the tensors show."""
    width = int(state[f"layer{stage}.0.conv1.weight"].shape[0])
    last = "conv3" if bottleneck else "conv2"
    out = int(state[f"layer{stage}.0.{last}.weight"].shape[0])
    inner = int(state[f"layer{stage}.0.conv2.weight"].shape[1])
    filters = out // 4 if bottleneck else out
    args = {"padding": "symmetric"}
    if bottleneck:
        args["stride_on"] = "3x3"
    if f"layer{stage}.0.se.fc1.weight" in state:
        args["attention"] = "se"
        squeeze = int(state[f"layer{stage}.0.se.fc1.weight"].shape[0])
        if squeeze != se_channels(out):
            raise ValueError(
                f"This SE-ResNet state dict squeezes {out} channels to "
                f"{squeeze}; keras_residual builds timm's SEModule width "
                f"{se_channels(out)} (ratio 1/16, multiple of 8)."
            )
    if "layer2.0.downsample_avg.0.weight" in state:
        args["avg_down"] = True
    if width == filters and inner == width:
        return ("bottleneck" if bottleneck else "basic"), args, filters
    groups = width // inner if inner and width % inner == 0 else 0
    if bottleneck and groups > 1 and (inner * 64) % filters == 0:
        args.update(cardinality=groups, base_width=inner * 64 // filters)
        return "resnext", args, filters
    raise ValueError(
        f"This ResNet state dict has stage {stage} widths {width} -> "
        f"{out} with {inner} channels per 3x3 group: a wide variant "
        "keras_residual does not build yet."
    )


def describe(state):
    """The architecture of a ResNet state dict.

    Args:
        state: dict. `{name: array}`.
    """
    bottleneck = "layer1.0.conv3.weight" in state
    stages = []
    for stage, stride in zip(range(1, 5), STAGE_STRIDES):
        depth = len({k.split(".")[1] for k in state if k.startswith(f"layer{stage}.")})
        block, args, filters = _stage_args(state, stage, bottleneck)
        stages.append(StageSpec(depth, filters, block, stride=stride, args=args))
    spec = ModelSpec(stem=_stem(state), stages=tuple(stages), **TORCH_FIELDS)
    variant = {"resnext": "ResNeXt", "basic": "ResNet", "bottleneck": "ResNet"}
    extras = [
        name
        for name, present in (
            ("SE", "attention" in stages[0].args),
            ("deep stem", spec.stem.kind == "deep"),
            ("avg_down", stages[0].args.get("avg_down", False)),
        )
        if present
    ]
    return CheckpointArchitecture(
        family="resnet",
        spec=spec,
        classes=classes_of(state, "fc.weight"),
        description=(
            f"timm/torchvision {variant[stages[0].block]}, {stages[0].block} "
            f"blocks{''.join(', ' + e for e in extras)}, depths "
            f"{spec.depths}, widths {spec.widths}"
        ),
    )


def _stem(state):
    """The 7x7 ImageNet stem, or timm's deep stem (`conv1.0/3/6`)."""
    if "conv1.weight" in state:
        return StemSpec("imagenet", int(state["conv1.weight"].shape[0]))
    filters = int(state["conv1.6.weight"].shape[0])
    widths = (
        int(state["conv1.0.weight"].shape[0]),
        int(state["conv1.3.weight"].shape[0]),
    )
    if widths != (filters // 2, filters // 2):
        raise ValueError(
            f"This ResNet state dict has a deep stem of widths {widths} -> "
            f"{filters}; keras_residual's deep stem is {filters // 2}, "
            f"{filters // 2} -> {filters} (timm's stem_width = half the output)."
        )
    return StemSpec("deep", filters)


register_converter(
    "resnet",
    required_keys={"bn1.weight", "layer1.0.conv1.weight", "layer4.0.conv1.weight"},
    describe=describe,
    layer_name=layer_name,
    normalize=normalize,
)
