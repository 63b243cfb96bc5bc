"""DenseNets (Huang et al. 2017): DenseNet121/169/201 identical to
keras.applications (every layer named, including the paddings it leaves
unnamed), and the paper's CIFAR nets DenseNet-40, DenseNet-BC-100 and
DenseNet-BC-250."""

from keras_residual.models.cifar import CIFAR_FIELDS
from keras_residual.models.cifar import register_cifar_model
from keras_residual.preprocessing import decode_predictions  # noqa: F401
from keras_residual.preprocessing import preprocess_for
from keras_residual.spec import ModelSpec
from keras_residual.spec import StageSpec
from keras_residual.spec import StemSpec
from keras_residual.validation import check_float
from keras_residual.validation import check_int
from keras_residual.weights import register_weights
from keras_residual.zoo import register_model

KERAS_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
)


def densenet_spec(blocks, growth_rate=32, bottleneck=4, compression=0.5,
                  stem=None, **fields):
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
    growth_rate = check_int("growth_rate", growth_rate, minimum=1)
    bottleneck = check_int("bottleneck", bottleneck, minimum=0)
    compression = check_float("compression", compression, 0.0, 1.0,
                              min_inclusive=False)
    last = len(blocks) - 1
    stages = tuple(
        StageSpec(depth, growth_rate, "dense", stride=1, shortcut="none",
                  args={"bottleneck": bottleneck},
                  transition=None if i == last else "dense_transition",
                  transition_args={} if i == last
                  else {"compression": compression})
        for i, depth in enumerate(blocks)
    )
    fields.setdefault("use_bias", False)
    return ModelSpec(stem=stem or StemSpec("densenet", 64), stages=stages,
                     final_norm="", **fields)


def cifar_densenet_spec(depth_per_stage, growth_rate, bottleneck, compression,
                        stem_filters):
    """A CIFAR DenseNet: 3×3 stem conv, three dense stages at 32/16/8."""
    return densenet_spec(
        (depth_per_stage,) * 3, growth_rate=growth_rate, bottleneck=bottleneck,
        compression=compression,
        stem=StemSpec("cifar", stem_filters, {"norm": False}),
        **CIFAR_FIELDS,
    )


def _register_imagenet(name, blocks, file_stem, top_hash, notop_hash):
    entry_point = register_model(
        name, densenet_spec(blocks),
        description=f"{name}, identical to keras.applications.{name}.",
        preprocessing="torch",
    )
    base = f"{KERAS_WEIGHTS_URL}{file_stem}_weights_tf_dim_ordering_tf_kernels"
    register_weights(name, "imagenet",
                     top={"url": f"{base}.h5", "file_hash": top_hash},
                     notop={"url": f"{base}_notop.h5", "file_hash": notop_hash},
                     description="keras.applications ImageNet weights.")
    return entry_point


DenseNet121 = _register_imagenet("DenseNet121", (6, 12, 24, 16), "densenet121",
                                 "9d60b8095a5708f2dcce2bca79d332c7",
                                 "30ee3e1110167f948a6b9946edeeb738")
DenseNet169 = _register_imagenet("DenseNet169", (6, 12, 32, 32), "densenet169",
                                 "d699b8f76981ab1b30698df4c175e90b",
                                 "b8c4d4c20dd625c148057b9ff1c1176b")
DenseNet201 = _register_imagenet("DenseNet201", (6, 12, 48, 32), "densenet201",
                                 "1ceb130c1ea1b78c3bf6114dbdfd8807",
                                 "c13680b51ded0fb44dff2d8f86ac8bb1")

DenseNet40 = register_cifar_model(
    "DenseNet40", cifar_densenet_spec(12, 12, bottleneck=0, compression=1.0,
                                      stem_filters=16),
    "CIFAR DenseNet L=40, k=12, no bottleneck or compression (1.0M).")
DenseNetBC100 = register_cifar_model(
    "DenseNetBC100", cifar_densenet_spec(16, 12, bottleneck=4, compression=0.5,
                                         stem_filters=24),
    "CIFAR DenseNet-BC L=100, k=12 (0.8M).")
DenseNetBC250 = register_cifar_model(
    "DenseNetBC250", cifar_densenet_spec(41, 24, bottleneck=4, compression=0.5,
                                         stem_filters=48),
    "CIFAR DenseNet-BC L=250, k=24 (15.3M).")

preprocess_input = preprocess_for("DenseNet121")
