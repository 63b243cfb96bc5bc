"""DenseNets (Huang et al. 2017): DenseNet121/169/201 identical to
keras.applications (every layer named, including the paddings it leaves
unnamed), and the paper's CIFAR nets DenseNet-40, DenseNet-BC-100 and
DenseNet-BC-250."""

from keras_residual.blocks.dense import dense_stages
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StemSpec
from keras_residual.models.cifar import CIFAR_FIELDS
from keras_residual.models.cifar import register_cifar_model
from keras_residual.models.preprocessing import decode_predictions  # noqa: F401
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.zoo import register_model
from keras_residual.weights.registry import UNSTATED_LICENSE
from keras_residual.weights.registry import register_keras_applications_weights
from keras_residual.weights.registry import register_timm_weights


def densenet_spec(
    blocks, growth_rate=32, bottleneck=4, compression=0.5, stem=None, **fields
):
    """A DenseNet spec: dense stages of `blocks` layers joined by transitions.

    Args:
        blocks: sequence of int. Dense layers per stage.
        growth_rate: int. k, the channels each layer adds. Defaults to `32`.
        bottleneck: int. Width of the 1×1 conv in units of k; 0 drops it.
            Defaults to `4`.
        compression: float. θ in (0, 1], the transitions' channel factor.
            Defaults to `0.5`.
        stem: `StemSpec` or None. Defaults to the keras.applications stem
            with 64 filters.
        **fields: other `ModelSpec` fields.
    """
    stages = dense_stages(blocks, growth_rate, bottleneck, compression)
    fields.setdefault("use_bias", False)
    return ModelSpec(
        stem=stem or StemSpec("densenet", 64),
        stages=stages,
        final_norm_prefix="",
        **fields,
    )


def cifar_densenet_spec(
    depth_per_stage, growth_rate, bottleneck, compression, stem_filters
):
    """A CIFAR DenseNet: 3×3 stem conv, three dense stages at 32/16/8.

    Args:
        depth_per_stage: int. Dense layers per stage.
        growth_rate: int. k.
        bottleneck: int. 1×1 width in units of k; 0 drops it.
        compression: float. θ of the transitions.
        stem_filters: int. Stem width.
    """
    return densenet_spec(
        (depth_per_stage,) * 3,
        growth_rate=growth_rate,
        bottleneck=bottleneck,
        compression=compression,
        stem=StemSpec("cifar", stem_filters, {"norm": False}),
        **CIFAR_FIELDS,
    )


def _register_imagenet(name, blocks, file_stem, top_hash, notop_hash, top1):
    entry_point = register_model(
        name,
        densenet_spec(blocks),
        description=f"{name}, identical to keras.applications.{name}.",
        preprocessing="torch",
    )
    register_keras_applications_weights(
        name,
        "densenet",
        file_stem,
        top_hash,
        notop_hash,
        preprocessing="torch",
        top1=top1,
        license=UNSTATED_LICENSE,
    )
    return entry_point


DenseNet121 = _register_imagenet(
    "DenseNet121",
    (6, 12, 24, 16),
    "densenet121",
    "9d60b8095a5708f2dcce2bca79d332c7",
    "30ee3e1110167f948a6b9946edeeb738",
    75.0,
)
# timm hosts torchvision's DenseNet121 weights; top-1 74.43 at 224 px is
# torchvision's own table (timm's results row was not at hand offline).
register_timm_weights(
    "DenseNet121",
    "densenet121.tv_in1k",
    top1=74.43,
    license="bsd-3-clause",
    top1_source="torchvision",
)
DenseNet169 = _register_imagenet(
    "DenseNet169",
    (6, 12, 32, 32),
    "densenet169",
    "d699b8f76981ab1b30698df4c175e90b",
    "b8c4d4c20dd625c148057b9ff1c1176b",
    76.2,
)
DenseNet201 = _register_imagenet(
    "DenseNet201",
    (6, 12, 48, 32),
    "densenet201",
    "1ceb130c1ea1b78c3bf6114dbdfd8807",
    "c13680b51ded0fb44dff2d8f86ac8bb1",
    77.3,
)

DenseNet40 = register_cifar_model(
    "DenseNet40",
    cifar_densenet_spec(12, 12, bottleneck=0, compression=1.0, stem_filters=16),
    "CIFAR DenseNet L=40, k=12, no bottleneck or compression (1.0M).",
)
DenseNetBC100 = register_cifar_model(
    "DenseNetBC100",
    cifar_densenet_spec(16, 12, bottleneck=4, compression=0.5, stem_filters=24),
    "CIFAR DenseNet-BC L=100, k=12 (0.8M).",
)
DenseNetBC250 = register_cifar_model(
    "DenseNetBC250",
    cifar_densenet_spec(41, 24, bottleneck=4, compression=0.5, stem_filters=48),
    "CIFAR DenseNet-BC L=250, k=24 (15.3M).",
)

preprocess_input = preprocess_for("DenseNet121")
