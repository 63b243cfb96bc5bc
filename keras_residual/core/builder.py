"""The one Functional-API builder: a `ModelSpec` in, a Keras model out."""

import dataclasses

import keras

from keras_residual.blocks import BlockCall
from keras_residual.blocks import LayerFactory
from keras_residual.blocks import get_block
from keras_residual.blocks.stems import STEMS
from keras_residual.core.heads import check_head_args
from keras_residual.core.heads import classifier_head
from keras_residual.core.heads import pyramid_levels
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.core.spec import ModelSpec
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """Where one block sits in the network.

    Args:
        name: str. Layer-name prefix, e.g. `conv4_block6`.
        stage: int. Index of the stage.
        stride: int. The block's stride.
        drop_rate: float. Its stochastic-depth rate.
        reduction: int. Input-to-output spatial reduction after the block.
    """

    name: str
    stage: int
    stride: int
    drop_rate: float
    reduction: int


def stage_name(spec, index):
    """The keras.applications stage name: `conv2`, `conv3`, ...

    Args:
        spec: `ModelSpec`. Supplies `first_stage_index`.
        index: int. The stage's 0-based index.
    """
    return f"conv{spec.first_stage_index + index}"


def transition_stride(stage):
    """The stride of a stage's transition: `transition_args["stride"]`,
    default 2.

    Args:
        stage: `StageSpec`. The stage.
    """
    return check_int(
        "transition_args['stride']", stage.transition_args.get("stride", 2), minimum=1
    )


def plan_blocks(spec):
    """Lays out every block of `spec`: names, strides and drop-path rates.

    Stochastic depth follows the linear decay rule of Huang et al. 2016:
    block `l` of `L` (1-based) drops its branch with rate
    `drop_path_rate * l / L`.

    Args:
        spec: `ModelSpec`. The architecture.

    Returns:
        A list of `BlockPlan`, one per block, in order.
    """
    total = sum(spec.depths)
    reduction = STEMS.get(spec.stem.kind).stride
    plans, count = [], 0
    for s, stage in enumerate(spec.stages):
        strided = 0 if stage.stride_block == "first" else stage.depth - 1
        for j in range(stage.depth):
            count += 1
            stride = stage.stride if j == strided else 1
            reduction *= stride
            plans.append(
                BlockPlan(
                    name=f"{stage_name(spec, s)}_block{j + 1}",
                    stage=s,
                    stride=stride,
                    drop_rate=spec.drop_path_rate * count / total,
                    reduction=reduction,
                )
            )
        if stage.transition is not None:
            reduction *= transition_stride(stage)
    return plans


def check_spec_blocks(spec):
    """Checks that every stage's block exists and can take its stride and
    shortcut; raises `ValueError` naming the stage otherwise.

    Args:
        spec: `ModelSpec`. The architecture.
    """
    STEMS.get(spec.stem.kind)
    for s, stage in enumerate(spec.stages):
        info = get_block(stage.block)
        where = f"stage {stage_name(spec, s)} (block {stage.block!r})"
        if stage.stride not in info.strides:
            raise ValueError(
                f"Invalid `stride` for {where}: received {stage.stride}; "
                f"block {info.name!r} supports strides {info.strides}."
            )
        if stage.shortcut not in info.shortcuts:
            raise ValueError(
                f"Invalid `shortcut` for {where}: received {stage.shortcut!r}; "
                f"block {info.name!r} supports {info.shortcuts}."
            )
        if stage.transition is not None:
            get_block(stage.transition)


def build_backbone(inputs, spec):
    """Builds the stem, stages and optional final norm of `spec`.

    Args:
        inputs: tensor. The image input (a Keras tensor).
        spec: `ModelSpec`. The architecture.

    Returns:
        `(features, taps)`: the feature tensor and, per block, a
        `(BlockPlan, output tensor)` pair.
    """
    check_spec_blocks(spec)
    layers = LayerFactory.from_spec(spec)
    x = STEMS.get(spec.stem.kind).fn(inputs, spec.stem, layers)
    taps = []
    plans = plan_blocks(spec)
    for s, stage in enumerate(spec.stages):
        info = get_block(stage.block)
        stage_state = {}
        for plan in (p for p in plans if p.stage == s):
            x = info.fn(
                x,
                BlockCall(
                    name=plan.name,
                    filters=stage.filters,
                    stride=plan.stride,
                    shortcut=stage.shortcut,
                    drop_rate=plan.drop_rate,
                    zero_init=spec.zero_init_residual,
                    layers=layers,
                    args=stage.args,
                    expansion=info.expansion,
                    stage_state=stage_state,
                ),
            )
            taps.append((plan, x))
        if stage.transition is not None:
            transition = get_block(stage.transition)
            x = transition.fn(
                x,
                BlockCall(
                    name=f"pool{spec.first_stage_index + s}",
                    filters=stage.filters,
                    stride=transition_stride(stage),
                    shortcut="none",
                    drop_rate=0.0,
                    zero_init=False,
                    layers=layers,
                    args=stage.transition_args,
                    expansion=transition.expansion,
                ),
            )
    if spec.final_norm is not None:
        prefix = f"{spec.final_norm}_" if spec.final_norm else ""
        x = layers.bn(x, f"{prefix}bn")
        x = layers.act(x, name=f"{prefix}{spec.activation}")
    return x, taps


def resolve_input_shape(input_shape, input_tensor, spec, include_top):
    """Checks and completes the input shape, keras.applications-style.

    Without `input_shape` or `input_tensor`, a classifier gets
    `(default_size, default_size, 3)` and a backbone `(None, None, 3)`.

    Args:
        input_shape: tuple or None. `(height, width, channels)`.
        input_tensor: tensor or None. A tensor to use as the input.
        spec: `ModelSpec`. Supplies `default_size` and `min_size`.
        include_top: bool. A classifier needs a known height and width.
    """
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_residual models are channels-last; "
            f"keras.config.image_data_format() is "
            f"{keras.config.image_data_format()!r}. Call "
            "keras.config.set_image_data_format('channels_last')."
        )
    if input_tensor is not None:
        tensor_shape = tuple(input_tensor.shape)
        if len(tensor_shape) != 4:
            raise ValueError(
                "`input_tensor` must be a 4D image batch (batch, height, "
                f"width, channels); received shape {tensor_shape}."
            )
        if input_shape is not None and tuple(input_shape) != tensor_shape[1:]:
            raise ValueError(
                f"`input_shape` {tuple(input_shape)} disagrees with the shape "
                f"of `input_tensor` {tensor_shape[1:]}."
            )
        input_shape = tensor_shape[1:]
    if input_shape is None:
        size = spec.default_size if include_top else None
        return (size, size, 3)
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise TypeError(
            "`input_shape` must be a tuple (height, width, channels); "
            f"received {input_shape!r}."
        )
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels); received "
            f"{tuple(input_shape)!r} with {len(input_shape)} entries."
        )
    height, width, channels = input_shape
    for axis, size in (("height", height), ("width", width)):
        if size is None:
            continue
        check_int(f"input_shape {axis}", size)
        if size < spec.min_size:
            raise ValueError(
                f"Input {axis} must be at least {spec.min_size}; received "
                f"input_shape={tuple(input_shape)!r}."
            )
    check_int("input_shape channels", channels, minimum=1)
    if include_top and (height is None or width is None):
        raise ValueError(
            "`include_top=True` needs a known input height and width; "
            f"received input_shape={tuple(input_shape)!r}. Pass a full "
            "input_shape, or include_top=False for a variable-size backbone."
        )
    return (height, width, channels)


@keras.saving.register_keras_serializable(package="keras_residual")
class ResidualModel(keras.Model):
    """A Functional model built from a `ModelSpec`.

    `get_config()` returns the constructor arguments, with the spec as plain
    data, so a `.keras` file reloads with `safe_mode=True`. The head computes
    in float32 under mixed precision.

    Args:
        spec: `ModelSpec` or dict. The architecture.
        include_top: bool. Add global average pooling and the `predictions`
            classifier. Defaults to `True`.
        input_shape: tuple or None. `(height, width, channels)`.
            Defaults to `None` (see `resolve_input_shape`).
        pooling: str or None. For `include_top=False`: `None` (4D features),
            `"avg"` or `"max"`. Defaults to `None`.
        classes: int. Number of classes of the classifier. Defaults to `1000`.
        classifier_activation: str or None. Activation of `predictions`;
            `None` returns logits. Defaults to `"softmax"`.
        input_tensor: tensor or None. Use this tensor as the input.
            Defaults to `None`.
        name: str. Model name. Defaults to `"residual_model"`.
        preprocessing: str or None. The preprocessing mode its inputs are
            scaled with (`"tf"`, `"caffe"` or `"torch"`), recorded in the
            config so that it travels with `.keras` files to `export` and
            `predict`; None where unknown. Defaults to `None`.

    Attributes:
        spec: `ModelSpec`. The architecture.
        pyramid_outputs: dict. `{"P2": tensor, ...}`: the last block output
            at each stride `2**k`, keras-hub style.
    """

    def __init__(
        self,
        spec,
        include_top=True,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        input_tensor=None,
        name="residual_model",
        preprocessing=None,
        **kwargs,
    ):
        check_choice("preprocessing", preprocessing, (None, *PREPROCESSING_MODES))
        if isinstance(spec, dict):
            spec = ModelSpec.from_dict(spec)
        if not isinstance(spec, ModelSpec):
            raise TypeError(
                f"`spec` must be a ModelSpec or its dict; received {spec!r}."
            )
        check_head_args(include_top, pooling, classes, classifier_activation)
        input_shape = resolve_input_shape(input_shape, input_tensor, spec, include_top)
        if input_tensor is None:
            inputs = keras.Input(shape=input_shape, name="images")
            source_inputs = inputs
        elif keras.backend.is_keras_tensor(input_tensor):
            inputs = input_tensor
            source_inputs = keras.utils.get_source_inputs(input_tensor)
        else:
            inputs = keras.Input(tensor=input_tensor, name="images")
            source_inputs = inputs

        x, taps = build_backbone(inputs, spec)
        outputs = classifier_head(
            x, include_top, pooling, classes, classifier_activation
        )
        super().__init__(inputs=source_inputs, outputs=outputs, name=name, **kwargs)

        self.spec = spec
        self.include_top = include_top
        self.pooling = pooling
        self.classes = classes
        self.classifier_activation = classifier_activation
        self.image_shape = input_shape
        self.preprocessing = preprocessing
        self.block_outputs = {plan.name: tensor for plan, tensor in taps}
        self.pyramid_outputs = pyramid_levels(taps)

    def get_config(self):
        return {
            "spec": self.spec.to_dict(),
            "include_top": self.include_top,
            "input_shape": self.image_shape,
            "pooling": self.pooling,
            "classes": self.classes,
            "classifier_activation": self.classifier_activation,
            "name": self.name,
            "trainable": self.trainable,
            "preprocessing": self.preprocessing,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
