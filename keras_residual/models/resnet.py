"""ImageNet ResNets (He et al. 2015): ResNet18/34 (basic blocks) and
ResNet50/101/152, identical to keras.applications (layer names, order,
variables and parameter counts), so the published weight files load."""

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.models.preprocessing import decode_predictions  # noqa: F401
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.zoo import register_model
from keras_residual.weights.converters.resnet import TORCH_FIELDS
from keras_residual.weights.registry import register_keras_applications_weights
from keras_residual.weights.registry import register_timm_weights

IMAGENET_WIDTHS = (64, 128, 256, 512)
# keras.applications: "ported from the ones released by Kaiming He under the
# MIT license".
KERAS_V1_LICENSE = "MIT (Kaiming He's release, ported by keras.applications)"


def imagenet_resnet_spec(
    depths, block="bottleneck", use_bias=True, args=None, stem="imagenet", **fields
):
    """A ResNet v1 spec: keras.applications stem, four stages of
    64/128/256/512 filters at strides 1/2/2/2.

    Args:
        depths: sequence of int. Blocks per stage (four stages).
        block: str. The registered block. Defaults to `"bottleneck"`.
        use_bias: bool. Conv biases, as keras.applications. Defaults to
            `True`.
        args: dict or None. Block options of every stage. Defaults to
            `None`.
        stem: str. The registered stem: `"imagenet"` (7x7) or `"deep"`
            (ResNet-D's three 3x3 convs). Defaults to `"imagenet"`.
        **fields: other `ModelSpec` fields.
    """
    return ModelSpec(
        stem=StemSpec(stem, 64),
        stages=tuple(
            StageSpec(depth, width, block, stride=stride, args=dict(args or {}))
            for depth, width, stride in zip(depths, IMAGENET_WIDTHS, (1, 2, 2, 2))
        ),
        use_bias=use_bias,
        **fields,
    )


# torchvision's ResNet18/34 layout: bias-free convs, BN epsilon 1e-5
# (`TORCH_FIELDS`, the converters' own).

ResNet18 = register_model(
    "ResNet18",
    imagenet_resnet_spec((2, 2, 2, 2), block="basic", **TORCH_FIELDS),
    description="ResNet-18, basic blocks, ImageNet layout (11.7M params).",
)
ResNet34 = register_model(
    "ResNet34",
    imagenet_resnet_spec((3, 4, 6, 3), block="basic", **TORCH_FIELDS),
    description="ResNet-34, basic blocks, ImageNet layout (21.8M params).",
)
ResNet50 = register_model(
    "ResNet50",
    imagenet_resnet_spec((3, 4, 6, 3)),
    description="ResNet-50 v1, identical to keras.applications.ResNet50.",
)
ResNet101 = register_model(
    "ResNet101",
    imagenet_resnet_spec((3, 4, 23, 3)),
    description="ResNet-101 v1, identical to keras.applications.ResNet101.",
)
ResNet152 = register_model(
    "ResNet152",
    imagenet_resnet_spec((3, 8, 36, 3)),
    description="ResNet-152 v1, identical to keras.applications.ResNet152.",
)

register_keras_applications_weights(
    "ResNet50",
    "resnet",
    "resnet50",
    "2cb95161c43110f7111970584f804107",
    "4d473c1dd8becc155b73f8504c6f6626",
    preprocessing="caffe",
    top1=74.9,
    license=KERAS_V1_LICENSE,
)
register_keras_applications_weights(
    "ResNet101",
    "resnet",
    "resnet101",
    "f1aeb4b969a6efcfb50fad2f0c20cfc5",
    "88cf7a10940856eca736dc7b7e228a21",
    preprocessing="caffe",
    top1=76.4,
    license=KERAS_V1_LICENSE,
)
register_keras_applications_weights(
    "ResNet152",
    "resnet",
    "resnet152",
    "100835be76be38e30d865e96f2aaae62",
    "ee4c566cf9a93f14d82f913c2dc6dd0c",
    preprocessing="caffe",
    top1=76.6,
    license=KERAS_V1_LICENSE,
)

# timm's and torchvision's weights (timm results table, 224 px); the model
# is built in their "v1.5" layout when they are requested.
register_timm_weights("ResNet50", "resnet50.a1_in1k", top1=80.38, license="apache-2.0")
register_timm_weights(
    "ResNet50", "resnet50.tv2_in1k", top1=80.85, license="bsd-3-clause"
)
register_timm_weights(
    "ResNet50", "resnet50.tv_in1k", top1=76.16, license="bsd-3-clause"
)
register_timm_weights(
    "ResNet18", "resnet18.tv_in1k", top1=69.75, license="bsd-3-clause"
)

preprocess_input = preprocess_for("ResNet50")
