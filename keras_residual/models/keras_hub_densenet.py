"""keras-hub's `DenseNetBackbone` here: the keras.applications DenseNet
with "same" padding in the stem's conv and max pool. keras-hub's
`stack{i}_block{j}_{1,2}_{bn,conv}` are `conv{i+1}_block{j}_{0_bn,1_conv,
1_bn,2_conv}` here, its `transition{i}_*` our `pool{i+1}_*`."""

import re

from keras_residual.core.spec import StemSpec
from keras_residual.hub.keras_hub import KerasHubFamily
from keras_residual.hub.keras_hub import register_keras_hub_family
from keras_residual.hub.keras_hub import rename_layers
from keras_residual.models.densenet import densenet_spec

DENSE_LAYER = re.compile(r"^stack(\d+)_block(\d+)_([12])_(bn|conv)$")
TRANSITION_LAYER = re.compile(r"^transition(\d+)_(bn|conv)$")
# keras-hub's (conv index, kind) in a dense layer -> our suffix.
DENSE_PARTS = {
    ("1", "bn"): "0_bn",
    ("1", "conv"): "1_conv",
    ("2", "bn"): "1_bn",
    ("2", "conv"): "2_conv",
}
SAME_PADDING_STEM = StemSpec("densenet", 64, {"padding": "same"})


def spec_from_config(config):
    """The `ModelSpec` of a keras-hub `DenseNetBackbone` config.

    Args:
        config: dict. `DenseNetBackbone.get_config()`.
    """
    return densenet_spec(
        tuple(config["stackwise_num_repeats"]),
        growth_rate=config.get("growth_rate", 32),
        bottleneck=4,
        compression=config.get("compression_ratio", 0.5),
        stem=SAME_PADDING_STEM,
    )


def config_from_spec(spec):
    """The `DenseNetBackbone` arguments of `spec`, or None where it is not
    a DenseNet with keras-hub's stem.

    Args:
        spec: `ModelSpec`.
    """
    if spec.stem != SAME_PADDING_STEM or spec.stages[0].block != "dense":
        return None
    transition = spec.stages[0].transition_args or {}
    return {
        "stackwise_num_repeats": [s.depth for s in spec.stages],
        "growth_rate": spec.stages[0].filters,
        "compression_ratio": transition.get("compression", 0.5),
    }


def variable_name(config):
    """A function from a keras-hub variable path to ours.

    Args:
        config: dict. A keras-hub `DenseNetBackbone` config (unused: one
            naming for every DenseNet).
    """

    def rename(hub_name):
        match = DENSE_LAYER.match(hub_name)
        if match:
            stack, block, index, kind = match.groups()
            part = DENSE_PARTS[(index, kind)]
            return f"conv{int(stack) + 1}_block{int(block)}_{part}"
        match = TRANSITION_LAYER.match(hub_name)
        if match:
            return f"pool{int(match.group(1)) + 1}_{match.group(2)}"
        return hub_name

    return rename_layers(rename)


register_keras_hub_family(
    KerasHubFamily(
        "DenseNetBackbone",
        spec_from_config,
        config_from_spec,
        variable_name,
        "DenseNet-BC with keras-hub's 'same'-padded stem, "
        "StemSpec('densenet', 64, {'padding': 'same'}), as from_keras_hub() "
        "builds it",
    )
)
