"""CIFAR networks of He et al. 2015 (section 4.2) and 2016.

ResNet-(6n+2): a 3x3 conv with 16 filters, three stages of n basic blocks
with 16/32/64 filters at strides 1/2/2, option A (zero-padded strided
identity) shortcuts, global average pooling and a dense classifier.
PlainNet-N drops the shortcuts; PreActResNet164 uses pre-activation
bottlenecks (n=18) with projection shortcuts.
"""

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.models.preprocessing import decode_predictions  # noqa: F401
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.zoo import register_model

CIFAR_WIDTHS = (16, 32, 64)


# Settings shared by every CIFAR-sized spec of the zoo.
CIFAR_FIELDS = {
    "use_bias": False,
    "kernel_initializer": "he_normal",
    "bn_momentum": 0.9,
    "bn_epsilon": 1e-5,
    "default_size": 32,
    # Two stride-2 stages: 28x28 (MNIST, Fashion-MNIST) runs at 28, 14 and 7.
    "min_size": 16,
}


def cifar_spec(
    n,
    block="basic",
    shortcut="zero_pad",
    stem_norm=True,
    final_norm_prefix=None,
    args=None,
    **fields,
):
    """A CIFAR spec: three stages of `n` blocks, 16/32/64 filters.

    Args:
        n: int. Blocks per stage.
        block: str. The registered block. Defaults to `"basic"`.
        shortcut: str. The stages' shortcut kind. Defaults to `"zero_pad"`.
        stem_norm: bool. BN and activation in the stem. Defaults to `True`.
        final_norm_prefix: str or None. See `ModelSpec`. Defaults to `None`.
        args: dict or None. Block args. Defaults to `None`.
        **fields: other `ModelSpec` fields, over `CIFAR_FIELDS`.
    """
    return ModelSpec(
        stem=StemSpec("cifar", 16, {"norm": stem_norm}),
        stages=tuple(
            StageSpec(
                n, width, block, stride=stride, shortcut=shortcut, args=dict(args or {})
            )
            for width, stride in zip(CIFAR_WIDTHS, (1, 2, 2))
        ),
        final_norm_prefix=final_norm_prefix,
        **dict(CIFAR_FIELDS, **fields),
    )


def register_cifar_model(name, spec, description):
    """Registers a CIFAR-sized model: 10 classes, inputs scaled to [-1, 1].

    Args:
        name: str. The model name.
        spec: `ModelSpec`. The architecture.
        description: str. One line.
    """
    return register_model(
        name, spec, description=description, classes=10, preprocessing="tf"
    )


ResNet20 = register_cifar_model(
    "ResNet20", cifar_spec(3), "CIFAR ResNet-20, option A shortcuts (0.27M)."
)
ResNet32 = register_cifar_model(
    "ResNet32", cifar_spec(5), "CIFAR ResNet-32, option A shortcuts (0.46M)."
)
ResNet44 = register_cifar_model(
    "ResNet44", cifar_spec(7), "CIFAR ResNet-44, option A shortcuts (0.66M)."
)
ResNet56 = register_cifar_model(
    "ResNet56", cifar_spec(9), "CIFAR ResNet-56, option A shortcuts (0.85M)."
)
ResNet110 = register_cifar_model(
    "ResNet110", cifar_spec(18), "CIFAR ResNet-110, option A shortcuts (1.7M)."
)
PlainNet20 = register_cifar_model(
    "PlainNet20",
    cifar_spec(3, block="plain", shortcut="none"),
    "CIFAR plain-20: ResNet-20 without shortcuts (degradation control).",
)
PlainNet56 = register_cifar_model(
    "PlainNet56",
    cifar_spec(9, block="plain", shortcut="none"),
    "CIFAR plain-56: ResNet-56 without shortcuts (degradation control).",
)
PreActResNet164 = register_cifar_model(
    "PreActResNet164",
    cifar_spec(
        18,
        block="preact_bottleneck",
        shortcut="projection",
        stem_norm=False,
        final_norm_prefix="post",
    ),
    "CIFAR pre-activation ResNet-164, bottleneck blocks (1.7M).",
)

preprocess_input = preprocess_for("ResNet20")
