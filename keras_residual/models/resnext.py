"""ResNeXt (Xie et al. 2017) in torchvision's layout: the ResNet-50/101
stem and stages with `resnext` blocks (grouped 3x3, stride on the 3x3,
bias-free convolutions, BatchNorm epsilon 1e-5), matched to torchvision's
parameter counts. `cardinality` and `base_width` are `build()` options."""

from keras_residual.models.resnet import imagenet_resnet_spec
from keras_residual.models.zoo import register_model
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.registry import register_timm_weights

# torchvision's ResNet family: bias-free convs, BN epsilon 1e-5
# (`TORCH_FIELDS`, the converters' own), and a strided 3x3 padded by one on
# every side.


def resnext_spec(depths, cardinality, base_width):
    """A ResNeXt spec: ResNet's ImageNet stem and four stages of
    64/128/256/512 filters (x4 out) at strides 1/2/2/2.

    Args:
        depths: sequence of int. Blocks per stage.
        cardinality: int. Groups of each 3x3 convolution.
        base_width: int. Group width at 64 filters.
    """
    args = {
        "cardinality": cardinality,
        "base_width": base_width,
        "stride_on": "3x3",
        "padding": "symmetric",
    }
    return imagenet_resnet_spec(depths, "resnext", args=args, **TORCH_FIELDS)


ResNeXt50_32x4d = register_model(
    "ResNeXt50_32x4d",
    resnext_spec((3, 4, 6, 3), cardinality=32, base_width=4),
    description="ResNeXt-50 32x4d, torchvision layout (25.0M params).",
)
ResNeXt101_32x8d = register_model(
    "ResNeXt101_32x8d",
    resnext_spec((3, 4, 23, 3), cardinality=32, base_width=8),
    description="ResNeXt-101 32x8d, torchvision layout (88.8M params).",
)

# timm's results table, 224 px.
register_timm_weights(
    "ResNeXt50_32x4d", "resnext50_32x4d.tv_in1k", top1=77.63, license="bsd-3-clause"
)
