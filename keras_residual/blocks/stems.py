"""Registered stems: the layers between the input and the first stage."""

import dataclasses

import keras

from keras_residual.layers.padding import PoolPadding2D
from keras_residual.utils.registry import Registry
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

# How the stem's max pool pads: with zeros (keras.applications; the same as
# ignoring the padding after a ReLU) or ignoring the padding (PyTorch).
POOL_PADDINGS = ("zeros", "ignore")

STEMS = Registry("stem", "stem.kind")


@dataclasses.dataclass(frozen=True)
class StemInfo:
    """A registered stem.

    Args:
        name: str. The registered name.
        fn: callable. `fn(x, stem_spec, layers) -> tensor`.
        stride: int. Total spatial reduction of the stem.
        description: str. One line.
    """

    name: str
    fn: object
    stride: int
    description: str = ""


def register_stem(name, *, stride, description="", overwrite=False):
    """Decorator registering a stem function `fn(x, stem_spec, layers)`.

    Args:
        name: str. The name specs use in `StemSpec.kind`.
        stride: int. Spatial reduction of the stem.
        description: str. One line. Defaults to `""`.
        overwrite: bool. Replace an existing stem. Defaults to `False`.
    """

    def decorator(fn):
        STEMS.register(
            name,
            StemInfo(name, fn, check_int("stride", stride, minimum=1), description),
            overwrite=overwrite,
        )
        return fn

    return decorator


def list_stems():
    """Returns `{name: description}` for every registered stem."""
    return {name: info.description for name, info in STEMS.items()}


@register_stem(
    "imagenet",
    stride=4,
    description=("7x7/2 conv, BN, ReLU, 3x3/2 max pool (keras.applications ResNet)."),
)
def imagenet_stem(x, stem, layers):
    """keras.applications ResNet stem; `args={"norm": False}` drops the BN
    and activation, as ResNetV2 does, and `args={"pool_padding": "ignore"}`
    pads the max pool with `-inf` (PyTorch's `MaxPool2d(3, 2, padding=1)`,
    which differs from zeros where the stem has no ReLU).

    Args:
        x: tensor. The input images.
        stem: `StemSpec`. Supplies `filters` and `args`.
        layers: `LayerFactory`. Makes the named layers.
    """
    x = keras.layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.conv(x, stem.filters, 7, "conv1_conv", strides=2)
    if stem.args.get("norm", True):
        x = layers.bn(x, "conv1_bn")
        x = layers.act(x, "conv1")
    pool_padding = stem.args.get("pool_padding", "zeros")
    check_choice("stem.args['pool_padding']", pool_padding, POOL_PADDINGS)
    if pool_padding == "ignore":
        x = PoolPadding2D(1, name="pool1_pad")(x)
    else:
        x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


@register_stem(
    "cifar",
    stride=1,
    description=(
        "3x3 conv, BN, ReLU at full resolution (He et al. 2015, section 4.2)."
    ),
)
def cifar_stem(x, stem, layers):
    """CIFAR stem; `args={"norm": False}` keeps only the convolution, as
    pre-activation networks do.

    Args:
        x: tensor. The input images.
        stem: `StemSpec`. Supplies `filters` and `args`.
        layers: `LayerFactory`. Makes the named layers.
    """
    x = layers.conv(x, stem.filters, 3, "conv1_conv", padding="same")
    if stem.args.get("norm", True):
        x = layers.bn(x, "conv1_bn")
        x = layers.act(x, "conv1")
    return x
