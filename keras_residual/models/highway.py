"""Highway networks (Srivastava et al. 2015) on the CIFAR topology."""

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.models.cifar import CIFAR_FIELDS
from keras_residual.models.cifar import cifar_spec
from keras_residual.models.cifar import register_cifar_model

HIGHWAY_ARGS = {"transform_depth": 2, "gate_bias": -2.0}


def highway_cifar_spec(n, **fields):
    """ResNet-(6n+2)'s CIFAR topology with the gated merge: each block's H
    is two 3×3 conv-BN-ReLU layers, its gate a 3×3 conv (bias −2).

    Args:
        n: int. Blocks per stage.
        **fields: other `ModelSpec` fields.
    """
    return cifar_spec(
        n, block="highway", shortcut="projection", args=HIGHWAY_ARGS, **fields
    )


def highway19_spec(widths=(32, 80, 128), layers_per_stack=5, gate_bias=-2.0):
    """The paper's 19-layer CIFAR highway net, as reconstructed here.

    Args:
        widths: tuple of int. Widths of the three stacks.
            Defaults to `(32, 80, 128)`.
        layers_per_stack: int. Highway layers per stack. Defaults to `5`.
        gate_bias: float. Initial gate bias. Defaults to `-2.0`.
    """
    stages = []
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        stages.append(
            StageSpec(
                layers_per_stack,
                width,
                "highway",
                stride=1,
                shortcut="projection",
                args={
                    "transform_norm": False,
                    "transform_depth": 1,
                    "gate_bias": gate_bias,
                },
                transition=None if last else "highway_transition",
                transition_args={} if last else {"filters": widths[i + 1]},
            )
        )
    fields = dict(CIFAR_FIELDS, use_bias=True, kernel_initializer="glorot_uniform")
    return ModelSpec(
        stem=StemSpec("plain_conv", widths[0]), stages=tuple(stages), **fields
    )


HighwayNet20 = register_cifar_model(
    "HighwayNet20",
    highway_cifar_spec(3),
    "CIFAR highway net with ResNet-20's topology and gated merges.",
)
HighwayNet56 = register_cifar_model(
    "HighwayNet56",
    highway_cifar_spec(9),
    "CIFAR highway net with ResNet-56's topology and gated merges.",
)
HighwayNet110 = register_cifar_model(
    "HighwayNet110",
    highway_cifar_spec(18),
    "CIFAR highway net with ResNet-110's topology and gated merges.",
)
HighwayNet19 = register_cifar_model(
    "HighwayNet19",
    highway19_spec(),
    "The highway paper's 19-layer CIFAR net (2.3M params, reconstructed).",
)
HighwayNet19.__doc__ = """Builds HighwayNet19, the 19-layer CIFAR highway network of
Srivastava et al. 2015 (Table 3: 2.3M parameters, 92.4% on CIFAR-10).

Layout: a 3×3 conv (32 filters) + ReLU, then three stacks of five highway
layers (32, 80 and 128 filters), with a 2×2 max pool and a plain 3×3 conv
changing the width between stacks, then global average pooling and the
classifier: 1 + 15 + 2 + 1 = 19 weighted layers. Each highway layer is the
paper's: H is one 3×3 conv + ReLU without BN, T one 3×3 conv + sigmoid with
bias −2.

Differences from the paper, stated plainly: the paper's prototxt widths and
stack sizes are not reproduced exactly (the layout above is a reconstruction
that matches its layer count and its 2.3M parameters); the classifier is
global average pooling + dense rather than its final conv layers; no dropout.

""" + (HighwayNet19.__doc__ or "").split("\n\n", 1)[1]
