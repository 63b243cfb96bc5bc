"""Registered stems: the layers between the input and the first stage."""

import dataclasses

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
        stride: int or callable. Total spatial reduction of the stem, or
            `stride(stem_spec) -> int` where its args decide it.
        description: str. One line.
        tokens: bool. The stem outputs a token sequence (the model then
            needs a known input size). Defaults to `False`.
    """

    name: str
    fn: object
    stride: object
    description: str = ""
    tokens: bool = False


def register_stem(name, *, stride, description="", tokens=False, overwrite=False):
    """Decorator registering a stem function `fn(x, stem_spec, layers)`.

    Args:
        name: str. The name specs use in `StemSpec.kind`.
        stride: int or callable. Spatial reduction of the stem, or
            `stride(stem_spec) -> int`.
        description: str. One line. Defaults to `""`.
        tokens: bool. The stem outputs tokens. Defaults to `False`.
        overwrite: bool. Replace an existing stem. Defaults to `False`.
    """
    if not callable(stride):
        stride = check_int("stride", stride, minimum=1)

    def decorator(fn):
        STEMS.register(
            name,
            StemInfo(name, fn, stride, description, bool(tokens)),
            overwrite=overwrite,
        )
        return fn

    return decorator


def stem_stride(stem):
    """The spatial reduction of a `StemSpec`'s registered stem.

    Args:
        stem: `StemSpec`. The stem.
    """
    stride = STEMS.get(stem.kind).stride
    return stride(stem) if callable(stride) else stride


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
    x = layers.pad(x, 3, "conv1_pad")
    x = layers.conv(x, stem.filters, 7, "conv1_conv", strides=2)
    if stem.args.get("norm", True):
        x = layers.bn(x, "conv1_bn")
        x = layers.act(x, "conv1")
    return _stem_pool(x, stem, layers)


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


@register_stem(
    "deep",
    stride=4,
    description=(
        "Three 3x3 convs (the first strided), BN, ReLU, 3x3/2 max pool "
        "(ResNet-D, timm's stem_type='deep')."
    ),
)
def deep_stem(x, stem, layers):
    """ResNet-D's deep stem (He et al. 2019, "Bag of Tricks"): 3x3 convs of
    `filters/2`, `filters/2` and `filters` channels, the first at stride 2,
    each followed by BN and the activation (`conv1_{1,2,3}_*`, the last BN
    `conv1_bn`), then the ImageNet stem's max pool (`pool1_*`; takes the
    same `pool_padding` arg).

    Args:
        x: tensor. The input images.
        stem: `StemSpec`. Supplies `filters` and `args`.
        layers: `LayerFactory`. Makes the named layers.
    """
    width = max(1, stem.filters // 2)
    x = layers.pad(x, 1, "conv1_1_pad")
    x = layers.conv(x, width, 3, "conv1_1_conv", strides=2)
    x = layers.act(layers.bn(x, "conv1_1_bn"), "conv1_1")
    x = layers.conv(x, width, 3, "conv1_2_conv", padding="same")
    x = layers.act(layers.bn(x, "conv1_2_bn"), "conv1_2")
    x = layers.conv(x, stem.filters, 3, "conv1_3_conv", padding="same")
    x = layers.act(layers.bn(x, "conv1_bn"), "conv1")
    return _stem_pool(x, stem, layers)


def _waveform_stride(stem):
    return stem.args.get("stride", 4) * stem.args.get("pool", 4)


@register_stem(
    "waveform",
    stride=_waveform_stride,
    description=(
        "A wide strided conv, BN, ReLU and a max pool on raw audio (Dai et al. "
        "2017's M-series: 80/4 conv, pool 4)."
    ),
)
def waveform_stem(x, stem, layers):
    """The M-series stem for raw waveforms: a `kernel`-sample convolution
    at stride `stride` (a learned filter bank, 10 ms at 8 kHz), BN, ReLU,
    then a max pool of `pool`; `args` sets `kernel`, `stride` and `pool`
    (80, 4, 4 by default).

    Args:
        x: tensor. The waveforms `(batch, samples, 1)`.
        stem: `StemSpec`. Supplies `filters` and `args`.
        layers: `LayerFactory`. Makes the named layers.
    """
    kernel = check_int("stem.args['kernel']", stem.args.get("kernel", 80), minimum=1)
    stride = check_int("stem.args['stride']", stem.args.get("stride", 4), minimum=1)
    pool = check_int("stem.args['pool']", stem.args.get("pool", 4), minimum=1)
    x = layers.conv(
        x, stem.filters, kernel, "conv1_conv", strides=stride, padding="same"
    )
    x = layers.act(layers.bn(x, "conv1_bn"), "conv1")
    return layers.pool(x, pool, "pool1_pool", strides=pool, padding="same")


def _stem_pool(x, stem, layers):
    """The 3x3/2 max pool (`pool1_pad`, `pool1_pool`) of the ImageNet stems."""
    pool_padding = stem.args.get("pool_padding", "zeros")
    check_choice("stem.args['pool_padding']", pool_padding, POOL_PADDINGS)
    value = "-inf" if pool_padding == "ignore" else "zeros"
    x = layers.pad(x, 1, "pool1_pad", value=value)
    return layers.pool(x, 3, "pool1_pool", strides=2)
