"""Squeeze-and-excitation ResNets (Hu et al. 2018) in timm's layout:
ResNet-50 v1.5 (stride on the 3x3, bias-free convolutions, BatchNorm
epsilon 1e-5) with `attention="se"` in every bottleneck, matched to timm's
parameter count. Any residual model takes `attention="se"` or `"eca"` as a
`build()` option."""

from keras_residual.models.resnet import imagenet_resnet_spec
from keras_residual.models.zoo import register_model
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.registry import register_timm_weights


def se_resnet_spec(depths, attention="se"):
    """A timm-layout ResNet v1.5 spec with channel attention in every block.

    Args:
        depths: sequence of int. Bottlenecks per stage.
        attention: str. `"se"` or `"eca"`. Defaults to `"se"`.
    """
    args = {"attention": attention, "stride_on": "3x3", "padding": "symmetric"}
    return imagenet_resnet_spec(depths, "bottleneck", args=args, **TORCH_FIELDS)


SEResNet50 = register_model(
    "SEResNet50",
    se_resnet_spec((3, 4, 6, 3)),
    description="SE-ResNet-50, timm seresnet50 layout (28.1M params).",
)

# timm's results table, 224 px.
register_timm_weights(
    "SEResNet50", "seresnet50.ra2_in1k", top1=80.26, license="apache-2.0"
)
