"""Pre-activation ResNets (He et al. 2016) identical to keras.applications
ResNet50V2/101V2/152V2: the stride sits in the last block of each stage and a
`post_bn`/`post_relu` follows the last stage."""

from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.models.preprocessing import decode_predictions  # noqa: F401
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.resnet import IMAGENET_WIDTHS
from keras_residual.models.zoo import register_model
from keras_residual.weights.registry import UNSTATED_LICENSE
from keras_residual.weights.registry import register_keras_applications_weights


def imagenet_resnet_v2_spec(depths, **fields):
    """A keras.applications ResNetV2 spec: stem without BN, pre-activation
    bottlenecks strided in their last block (strides 2/2/2/1).

    Args:
        depths: sequence of int. Blocks per stage (four stages).
        **fields: other `ModelSpec` fields.
    """
    return ModelSpec(
        stem=StemSpec("imagenet", 64, {"norm": False}),
        stages=tuple(
            StageSpec(
                depth, width, "preact_bottleneck", stride=stride, stride_block="last"
            )
            for depth, width, stride in zip(depths, IMAGENET_WIDTHS, (2, 2, 2, 1))
        ),
        final_norm_prefix="post",
        **fields,
    )


ResNet50V2 = register_model(
    "ResNet50V2",
    imagenet_resnet_v2_spec((3, 4, 6, 3)),
    description="ResNet-50 v2, identical to keras.applications.ResNet50V2.",
    preprocessing="tf",
)
ResNet101V2 = register_model(
    "ResNet101V2",
    imagenet_resnet_v2_spec((3, 4, 23, 3)),
    description="ResNet-101 v2, identical to keras.applications.ResNet101V2.",
    preprocessing="tf",
)
ResNet152V2 = register_model(
    "ResNet152V2",
    imagenet_resnet_v2_spec((3, 8, 36, 3)),
    description="ResNet-152 v2, identical to keras.applications.ResNet152V2.",
    preprocessing="tf",
)

register_keras_applications_weights(
    "ResNet50V2",
    "resnet",
    "resnet50v2",
    "3ef43a0b657b3be2300d5770ece849e0",
    "fac2f116257151a9d068a22e544a4917",
    preprocessing="tf",
    top1=76.0,
    license=UNSTATED_LICENSE,
)
register_keras_applications_weights(
    "ResNet101V2",
    "resnet",
    "resnet101v2",
    "6343647c601c52e1368623803854d971",
    "c0ed64b8031c3730f411d2eb4eea35b5",
    preprocessing="tf",
    top1=77.2,
    license=UNSTATED_LICENSE,
)
register_keras_applications_weights(
    "ResNet152V2",
    "resnet",
    "resnet152v2",
    "a49b44d1979771252814e80f8ec446f9",
    "ed17cf2e0169df9d443503ef94b23b33",
    preprocessing="tf",
    top1=78.0,
    license=UNSTATED_LICENSE,
)

preprocess_input = preprocess_for("ResNet50V2")
