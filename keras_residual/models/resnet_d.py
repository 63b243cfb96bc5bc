"""ResNet-D (He et al. 2019, "Bag of Tricks for Image Classification with
Convolutional Neural Networks") in timm's `resnet50d` layout: the deep
3-conv stem (`stem="deep"`) and average-pool downsampling shortcuts
(`avg_down=True`) on ResNet-50 v1.5, matched to timm's parameter count.
Both are `build()` options of any ResNet:
`kr.ResNet18(stem="deep", avg_down=True)`."""

from keras_residual.models.resnet import imagenet_resnet_spec
from keras_residual.models.zoo import register_model
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.registry import register_timm_weights

RESNET_D_ARGS = {"avg_down": True, "stride_on": "3x3", "padding": "symmetric"}

ResNet50D = register_model(
    "ResNet50D",
    imagenet_resnet_spec(
        (3, 4, 6, 3), "bottleneck", args=RESNET_D_ARGS, stem="deep", **TORCH_FIELDS
    ),
    description="ResNet-50-D, deep stem and avg-pool shortcuts, timm resnet50d "
    "layout (25.6M params).",
)

# timm's results table, 224 px.
register_timm_weights(
    "ResNet50D", "resnet50d.ra2_in1k", top1=80.55, license="apache-2.0"
)
