"""The one Functional-API builder: a `ModelSpec` in, a Keras model out."""

import dataclasses

import keras

from keras_residual.blocks import BlockCall
from keras_residual.blocks import LayerFactory
from keras_residual.blocks import get_block
from keras_residual.blocks.stems import STEMS
from keras_residual.blocks.stems import stem_stride
from keras_residual.core.array_feed import bind_fit_arguments
from keras_residual.core.array_feed import steady_fit_arguments
from keras_residual.core.front_end import as_front_end
from keras_residual.core.front_end import audio_input
from keras_residual.core.heads import FINAL_NORMS
from keras_residual.core.heads import HEADS
from keras_residual.core.heads import check_head_args
from keras_residual.core.heads import classifier_head
from keras_residual.core.heads import pyramid_levels
from keras_residual.core.input_shape import resolve_input_shape
from keras_residual.core.limits import LIMITS
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocessing_json
from keras_residual.core.single_trace import build_before_tracing
from keras_residual.core.spec import ModelSpec
from keras_residual.layers.tokens import TokensToGrid
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
    """The stage's `name`, else the keras.applications stage name: `conv2`,
    `conv3`, ...

    Args:
        spec: `ModelSpec`. Supplies the stages and `first_stage_index`.
        index: int. The stage's 0-based index.
    """
    return spec.stages[index].name or f"conv{spec.first_stage_index + index}"


def has_tokens(spec):
    """Whether `spec` makes token sequences (a token stem or a stage of
    Transformer blocks), so that its input size must be known.

    Args:
        spec: `ModelSpec`. The architecture.
    """
    return STEMS.get(spec.stem.kind).tokens or any(
        get_block(stage.block).tokens for stage in spec.stages
    )


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
    reduction = stem_stride(spec.stem)
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
        `(features, taps, layers)`: the feature tensor; per block, a
        `(BlockPlan, output)` pair, where the output of a block on tokens
        is laid out on its grid (`{block}_grid`, as timm's
        `forward_intermediates`); and the model's `LayerFactory`.
    """
    check_spec_blocks(spec)
    HEADS.get(spec.head)
    FINAL_NORMS.get(spec.final_norm_kind)
    layers = LayerFactory.from_spec(spec, weight_limit=LIMITS["weights"])
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
                    input_reduction=plan.reduction // plan.stride,
                ),
            )
            taps.append((plan, _tap(x, plan, layers)))
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
    if spec.final_norm_prefix is not None:
        prefix = f"{spec.final_norm_prefix}_" if spec.final_norm_prefix else ""
        x = FINAL_NORMS.get(spec.final_norm_kind).fn(x, prefix, layers)
    return x, taps, layers


def _tap(x, plan, layers):
    """A block's output as a feature map: token sequences (made by a token
    stem or block, which records their grid) are laid out on their grid."""
    layout = layers.token_layout
    if "grid" not in layout or len(x.shape) != 3:
        return x
    if len(layout["grid"]) == 1 and not layout["prefix_tokens"]:
        return x  # 1-D tokens are already a (length, channels) map
    return TokensToGrid(
        layout["grid"], layout["prefix_tokens"], name=f"{plan.name}_grid"
    )(x)


def checked_class_names(class_names, classes, include_top=True):
    """`class_names` as a list of str, one per class, or None.

    Args:
        class_names: sequence of str or None. The names.
        classes: int. The classifier's size.
        include_top: bool. Whether there is a classifier. Defaults to `True`.
    """
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise TypeError(
            "`class_names` must be a sequence of str, one per class; received "
            f"{class_names!r}."
        )
    names = [str(name) for name in class_names]
    if include_top and len(names) != classes:
        raise ValueError(
            f"`class_names` has {len(names)} names but `classes` is {classes}; "
            "give one name per class."
        )
    return names


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
        input_shape: tuple or None. `(height, width, channels)`, or
            `(length, channels)` for 1-D signals. Defaults to `None` (see
            `core.input_shape.resolve_input_shape`).
        pooling: str or None. For `include_top=False`: `None` (4D features),
            `"avg"` or `"max"`. Defaults to `None`.
        classes: int. Number of classes of the classifier. Defaults to `1000`.
        classifier_activation: str or None. Activation of `predictions`;
            `None` returns logits. Defaults to `"softmax"`.
        input_tensor: tensor or None. Use this tensor as the input.
            Defaults to `None`.
        name: str. Model name. Defaults to `"residual_model"`.
        preprocessing: str, dict, `Preprocessing` or None. How its inputs
            are scaled (`"tf"`, `"caffe"`, `"torch"` or any
            `Preprocessing`), recorded in the config so that it travels
            with `.keras` files to `export` and `predict`; None where
            unknown. Defaults to `None`.
        class_names: sequence of str or None. A name per class of the
            classifier, recorded in the config so that `.keras` files,
            exports and `predict` show names. Defaults to `None`.
        front_end: `AudioFrontEnd`, dict, str or None. An audio model: it
            takes PCM samples `(batch, samples)` (`input_shape=(samples,)`)
            through the front end, recorded in the config. Defaults to
            `None`.

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
        class_names=None,
        front_end=None,
        **kwargs,
    ):
        preprocessing = as_preprocessing(preprocessing)
        front_end = as_front_end(front_end)
        samples_shape = None
        if front_end is not None:  # the network's input comes out of it
            samples_shape, input_tensor = audio_input(
                front_end, input_shape, input_tensor
            )
            input_shape = None
        class_names = checked_class_names(class_names, classes, include_top)
        if isinstance(spec, dict):
            spec = ModelSpec.from_dict(spec)
        if not isinstance(spec, ModelSpec):
            raise TypeError(
                f"`spec` must be a ModelSpec or its dict; received {spec!r}."
            )
        check_head_args(include_top, pooling, classes, classifier_activation)
        sized_head = include_top and front_end is None  # audio: any length
        input_shape = resolve_input_shape(
            input_shape, input_tensor, spec, sized_head, fixed_size=has_tokens(spec)
        )
        if input_tensor is None:
            inputs = keras.Input(shape=input_shape, name="images")
            source_inputs = inputs
        elif keras.backend.is_keras_tensor(input_tensor):
            inputs = input_tensor
            source_inputs = keras.utils.get_source_inputs(input_tensor)
        else:
            inputs = keras.Input(tensor=input_tensor, name="images")
            source_inputs = inputs

        x, taps, layers = build_backbone(inputs, spec)
        outputs = classifier_head(
            x, include_top, pooling, classes, classifier_activation, spec.head, layers
        )
        super().__init__(inputs=source_inputs, outputs=outputs, name=name, **kwargs)

        self.spec = spec
        self.include_top = include_top
        self.pooling = pooling
        self.classes = classes
        self.classifier_activation = classifier_activation
        self.image_shape = samples_shape or input_shape
        self.front_end = front_end
        self._preprocessing = preprocessing
        self.class_names = class_names
        self.block_outputs = {plan.name: tensor for plan, tensor in taps}
        self.pyramid_outputs = pyramid_levels(taps)

    @property
    def preprocessing(self):
        """`Preprocessing` or None: how the model's inputs are scaled."""
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, value):
        """Args:
        value: str, dict, `Preprocessing` or None. How inputs are scaled.
        """
        self._preprocessing = as_preprocessing(value)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`. On TensorFlow, NumPy arrays are fed through a
        `tf.data` dataset with autotuning off (`core.array_feed`): the same
        batches, without the autotuner's stalls at epoch starts."""
        arguments = bind_fit_arguments(keras.Model.fit, args, kwargs)
        return super().fit(**steady_fit_arguments(arguments))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' hook before `fit`, `evaluate` and `*_on_batch` trace their
        step: on TensorFlow the optimizer and metrics are built first from
        the batch's shapes, so the step is traced once, not twice
        (`core.single_trace`)."""
        if not build_before_tracing(self, iterator, data_batch):
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

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
            "preprocessing": preprocessing_json(self.preprocessing),
            "class_names": self.class_names,
            "front_end": None
            if self.front_end is None
            else self.front_end.get_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
