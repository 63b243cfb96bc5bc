"""Declarative model specs: plain data that round-trips through JSON.

A `ModelSpec` is a stem, a list of `StageSpec`s and the options every block
honours. `keras_residual.build(spec)` turns it into a Keras model; the model's
`get_config()` stores `spec.to_dict()`.
"""

import dataclasses
import json

import keras

from keras_residual.blocks.layer_factory import NORMS
from keras_residual.core.limits import LIMITS
from keras_residual.utils.deprecation import renamed_argument
from keras_residual.utils.deprecation import warn_once
from keras_residual.utils.strict_parsing import load_json
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import unknown_name_message

STRIDE_POSITIONS = ("first", "last")
SHORTCUTS = ("projection", "zero_pad", "none")


def _plain(value):
    """Converts tuples to lists, recursively, so JSON and configs agree."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_args(argument, value):
    if not isinstance(value, dict):
        raise TypeError(
            f"`{argument}` must be a dict of plain values; received {value!r}."
        )
    try:
        json.dumps(value)
    except TypeError as error:
        raise TypeError(
            f"`{argument}` must hold JSON-serialisable values only; "
            f"received {value!r} ({error})."
        ) from None
    return _plain(value)


@dataclasses.dataclass(frozen=True)
class StemSpec:
    """The layers before the first stage.

    Args:
        kind: str. A registered stem (see `keras_residual.list_stems()`).
            Defaults to `"imagenet"`.
        filters: int. Output channels of the stem convolution.
            Defaults to `64`.
        args: dict. Stem-specific options, e.g. `{"norm": False}` for
            pre-activation networks. Defaults to `{}`.
    """

    kind: str = "imagenet"
    filters: int = 64
    args: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        check_int("stem.filters", self.filters, minimum=1)
        object.__setattr__(self, "args", _check_args("stem.args", self.args))


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """One stage: `depth` blocks of one registered kind at one resolution.

    Args:
        depth: int. Number of blocks in the stage.
        filters: int. The block width; a block's output has
            `filters * expansion` channels.
        block: str. A registered block (see `keras_residual.list_blocks()`).
            Defaults to `"bottleneck"`.
        stride: int. Spatial stride of the stage (1 or 2). Defaults to `2`.
        stride_block: str. `"first"` strides the first block (He et al.),
            `"last"` the last one (keras.applications ResNetV2).
            Defaults to `"first"`.
        shortcut: str. How a block's shortcut changes shape: `"projection"`
            (1x1 conv, option B), `"zero_pad"` (strided identity padded with
            zero channels, option A) or `"none"` (plain blocks).
            Defaults to `"projection"`.
        args: dict. Block-specific options. Defaults to `{}`.
        transition: str or None. A registered block applied once after the
            stage (e.g. a DenseNet transition). Defaults to `None`.
        transition_args: dict. Options for the transition. Defaults to `{}`.
        name: str or None. Prefix of the stage's layer names (`{name}_block1`);
            `None` numbers it as keras.applications does (`conv2`, `conv3`,
            ...). Defaults to `None`.
    """

    depth: int
    filters: int
    block: str = "bottleneck"
    stride: int = 2
    stride_block: str = "first"
    shortcut: str = "projection"
    args: dict = dataclasses.field(default_factory=dict)
    transition: str = None
    transition_args: dict = dataclasses.field(default_factory=dict)
    name: str = None

    def __post_init__(self):
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise TypeError(
                f"Stage `name` must be a non-empty str or None; received {self.name!r}."
            )
        check_int("depth", self.depth, minimum=1)
        check_int("filters", self.filters, minimum=1)
        for argument, value in (("depth", self.depth), ("filters", self.filters)):
            if value > LIMITS[argument]:
                raise ValueError(
                    f"`{argument}` {value} is over the limit of "
                    f"{LIMITS[argument]} per stage (such a model takes minutes "
                    "to build, or cannot); if you mean it, raise "
                    f"keras_residual.core.spec.LIMITS[{argument!r}]."
                )
        check_int("stride", self.stride, minimum=1, maximum=2)
        check_choice("stride_block", self.stride_block, STRIDE_POSITIONS)
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        if not isinstance(self.block, str):
            raise TypeError(
                f"`block` must be a registered block name; received {self.block!r}."
            )
        object.__setattr__(self, "args", _check_args("args", self.args))
        object.__setattr__(
            self,
            "transition_args",
            _check_args("transition_args", self.transition_args),
        )


_NOT_GIVEN = object()  # `ModelSpec(final_norm=...)` was not passed


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A whole network: stem, stages and the options every block honours.

    Args:
        stem: `StemSpec`. The input stem.
        stages: tuple of `StageSpec`. The stages, in order; they are named
            `conv2`, `conv3`, ... as in keras.applications.
        final_norm_prefix: str or None. The norm after the last stage, by
            the prefix of its layer names (`"post"` gives
            `post_bn`/`post_relu`, `""` gives `bn`/`relu`); None builds no
            final norm. Pre-activation networks and Transformers need one.
            (`final_norm`, its 0.1 name, still works, with a warning.)
            Defaults to `None`.
        final_norm_kind: str. A registered final norm (see
            `keras_residual.core.heads.FINAL_NORMS`): `"norm_act"` (the
            norm and the activation, `{prefix}bn` and `{prefix}relu`) or
            `"layer_norm"` (a LayerNormalization alone, `{prefix}norm`, as
            ViT's `norm`).
            Defaults to `"norm_act"`.
        head: str. A registered head (see `keras_residual.list_heads()`):
            how the classifier pools the features: `"avg"` (global average
            pooling), `"token"` (the class token) or `"token_avg"` (the
            average of the other tokens). Defaults to `"avg"`.
        norm: str. The norm of every block: `"batch"`, `"layer"` or
            `"group"`. Defaults to `"batch"`.
        norm_groups: int. Groups of a group norm. Defaults to `32`.
        activation: str. Activation used in every block. Defaults to `"relu"`.
        use_bias: bool. Whether convolutions carry a bias (keras.applications
            ResNets do). Defaults to `True`.
        kernel_initializer: str. Initializer of every convolution kernel.
            Defaults to `"glorot_uniform"` (the Keras default).
        bn_momentum: float. BatchNormalization momentum. Defaults to `0.99`.
        bn_epsilon: float. BatchNormalization epsilon.
            Defaults to `1.001e-5`.
        zero_init_residual: bool. Initialise the last BN gamma of each
            residual branch to zero. Defaults to `False`.
        drop_path_rate: float. Stochastic-depth rate of the last block; block
            `l` of `L` drops its branch with rate `drop_path_rate * l / L`.
            Defaults to `0.0`.
        default_size: int. Default input height and width. Defaults to `224`.
        min_size: int. Smallest accepted input height and width.
            Defaults to `32`.
        first_stage_index: int. Number in the first stage's name (`conv2`).
            Defaults to `2`.
    """

    stem: StemSpec
    stages: tuple
    final_norm_prefix: str = None
    final_norm_kind: str = "norm_act"
    head: str = "avg"
    norm: str = "batch"
    norm_groups: int = 32
    activation: str = "relu"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1.001e-5
    zero_init_residual: bool = False
    drop_path_rate: float = 0.0
    default_size: int = 224
    min_size: int = 32
    first_stage_index: int = 2
    final_norm: dataclasses.InitVar[object] = _NOT_GIVEN  # the 0.1 name

    def __post_init__(self, final_norm):
        if final_norm is not _NOT_GIVEN:
            prefix = renamed_argument(
                "ModelSpec",
                "final_norm",
                "final_norm_prefix",
                final_norm,
                self.final_norm_prefix,
            )
            object.__setattr__(self, "final_norm_prefix", prefix)
        if isinstance(self.stem, dict):
            object.__setattr__(self, "stem", StemSpec(**self.stem))
        if not isinstance(self.stem, StemSpec):
            raise TypeError(f"`stem` must be a StemSpec; received {self.stem!r}.")
        stages = tuple(
            StageSpec(**s) if isinstance(s, dict) else s for s in self.stages
        )
        if not stages:
            raise ValueError("`stages` must hold at least one stage; received ().")
        for i, stage in enumerate(stages):
            if not isinstance(stage, StageSpec):
                raise TypeError(
                    f"`stages[{i}]` must be a StageSpec; received {stage!r}."
                )
        object.__setattr__(self, "stages", stages)
        # A lower bound of any block's weights in either rank (one 3-tap 1-D
        # conv), so a spec past it is refused before anything is built; the
        # exact count is charged kernel by kernel as the model builds.
        estimate = sum(stage.depth * stage.filters**2 * 3 for stage in stages)
        if estimate > LIMITS["weights"]:
            raise ValueError(
                f"`stages` (depths {[s.depth for s in stages]}, filters "
                f"{[s.filters for s in stages]}) would build about {estimate:.2g} "
                f"weights, over the limit of {LIMITS['weights']:.2g} (such a "
                "model cannot fit in memory); if you mean it, raise "
                "keras_residual.core.spec.LIMITS['weights']."
            )
        if self.final_norm_prefix is not None and not isinstance(
            self.final_norm_prefix, str
        ):
            raise TypeError(
                f"`final_norm_prefix` must be a str prefix or None; "
                f"received {self.final_norm_prefix!r}."
            )
        if not isinstance(self.activation, str):
            raise TypeError(
                f"`activation` must be the name of a Keras activation; "
                f"received {self.activation!r}."
            )
        _check_activation(self.activation)
        check_choice("norm", self.norm, NORMS)
        check_int("norm_groups", self.norm_groups, minimum=1)
        for argument in ("final_norm_kind", "head"):
            if not isinstance(getattr(self, argument), str):
                raise TypeError(
                    f"`{argument}` must be a registered name; received "
                    f"{getattr(self, argument)!r}."
                )
        if not isinstance(self.use_bias, bool):
            raise TypeError(f"`use_bias` must be a bool; received {self.use_bias!r}.")
        if not isinstance(self.zero_init_residual, bool):
            raise TypeError(
                "`zero_init_residual` must be a bool; received "
                f"{self.zero_init_residual!r}."
            )
        check_float("bn_momentum", self.bn_momentum, 0.0, 1.0, max_inclusive=False)
        check_float("bn_epsilon", self.bn_epsilon, 0.0, min_inclusive=False)
        check_float(
            "drop_path_rate", self.drop_path_rate, 0.0, 1.0, max_inclusive=False
        )
        check_int("default_size", self.default_size, minimum=1)
        check_int("min_size", self.min_size, minimum=1)
        check_int("first_stage_index", self.first_stage_index, minimum=0)

    @property
    def depths(self):
        return tuple(stage.depth for stage in self.stages)

    @property
    def widths(self):
        return tuple(stage.filters for stage in self.stages)

    def replace(self, **changes):
        """Returns a copy with the given fields changed.

        Args:
            **changes: `ModelSpec` fields to change; they are checked again.
        """
        if "final_norm" in changes:  # the 0.1 name
            changes["final_norm_prefix"] = renamed_argument(
                "ModelSpec.replace",
                "final_norm",
                "final_norm_prefix",
                changes.pop("final_norm"),
                changes.get("final_norm_prefix", _NOT_GIVEN),
                default=_NOT_GIVEN,
            )
        return dataclasses.replace(self, final_norm=_NOT_GIVEN, **changes)

    def to_dict(self):
        """Returns the spec as plain JSON-compatible data."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data):
        """Builds a spec from `to_dict()` output; unknown keys raise.

        Args:
            data: dict. `to_dict()` output (or its JSON); unknown keys raise
                `ValueError`.
        """
        if not isinstance(data, dict):
            raise TypeError(f"A model spec must be a dict; received {data!r}.")
        if "final_norm" in data and "final_norm_prefix" not in data:
            # Written before the rename (model.keras, run.json, cards): its
            # name then, read silently.
            data = dict(data)
            data["final_norm_prefix"] = data.pop("final_norm")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown model spec field(s) {unknown}; allowed fields: "
                f"{sorted(known)}."
            )
        return cls(**data)

    def to_json(self, **kwargs):
        """Returns the spec as JSON text.

        Args:
            **kwargs: passed to `json.dumps`, e.g. `indent=2`.
        """
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text):
        """Builds a spec from `to_json()` output.

        Args:
            text: str. `to_json()` output.

        Raises:
            ValueError: invalid JSON, a duplicate key, nesting too deep or
                a spec that does not build.
        """
        try:
            data = load_json(text)
        except RecursionError:
            raise ValueError("`text` is nested too deeply for a spec.") from None
        except ValueError as error:  # JSONDecodeError too
            raise ValueError(f"`text` is not a JSON spec ({error}).") from None
        return cls.from_dict(data)


def _final_norm(spec):
    """The 0.1 name of `ModelSpec.final_norm_prefix`, read with a warning."""
    warn_once(
        ("ModelSpec", "final_norm attribute"),
        "ModelSpec.final_norm is deprecated; read ModelSpec.final_norm_prefix.",
    )
    return spec.final_norm_prefix


ModelSpec.final_norm = property(_final_norm)


def _check_activation(name):
    """Refuses an activation Keras does not know, with close matches."""
    try:
        keras.activations.get(name)
    except ValueError:
        known = [
            n
            for n in dir(keras.activations)
            if not n.startswith("_")
            and n not in ("get", "serialize", "deserialize")
            and callable(getattr(keras.activations, n))
        ]
        raise ValueError(
            unknown_name_message("activation", name, known, kind="activation")
        ) from None
