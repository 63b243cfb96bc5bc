"""`build()` overrides: depths, widths, a width multiplier, another block
or stem, `ModelSpec` fields and the options of the blocks a spec uses."""

import dataclasses

from keras_residual.blocks import STEMS
from keras_residual.blocks import get_block
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int_sequence
from keras_residual.utils.validation import unknown_name_message

# ModelSpec fields that `build(...)` accepts directly as overrides.
FIELD_OVERRIDES = (
    "activation",
    "use_bias",
    "kernel_initializer",
    "bn_momentum",
    "bn_epsilon",
    "zero_init_residual",
    "drop_path_rate",
    "norm",
    "norm_groups",
)


def apply_overrides(
    spec,
    depths=None,
    widths=None,
    width_multiplier=None,
    block=None,
    stem=None,
    **fields,
):
    """Returns `spec` with per-stage depths/widths, a width multiplier, a
    block for every stage, or `ModelSpec` fields replaced.

    Args:
        spec: `ModelSpec`. The spec to change.
        depths: sequence of int or None. Blocks per stage.
        widths: sequence of int or None. Filters per stage.
        width_multiplier: float or None. Scales the stem and every stage's
            filters (rounded, at least 1).
        block: str or None. A registered block for every stage; a stage
            whose shortcut the block does not support takes the block's
            first supported shortcut.
        stem: str or None. A registered stem for the spec (its filters and
            args kept), e.g. `"deep"` for ResNet-D's.
        **fields: `ModelSpec` fields in `FIELD_OVERRIDES`, or options of the
            blocks and transitions the spec uses (e.g. `gate_bias`,
            `memory_efficient`, `compression`), which go into the args of
            every stage (or transition) using such a block.
    """
    stem_kind, stages = stem, list(spec.stages)
    if block is not None:
        info = get_block(block)
        stages = [
            dataclasses.replace(
                s,
                block=block,
                shortcut=s.shortcut
                if s.shortcut in info.shortcuts
                else info.shortcuts[0],
            )
            for s in stages
        ]
    options = set(_block_options(stages)) | set(_transition_options(stages))
    unknown = sorted(set(fields) - set(FIELD_OVERRIDES) - options)
    if unknown:
        allowed = (
            ("depths", "widths", "width_multiplier", "block", "stem")
            + FIELD_OVERRIDES
            + tuple(sorted(options))
        )
        raise ValueError(
            unknown_name_message(
                "build(...)", unknown[0], allowed, kind="keyword argument"
            )
        )
    for option in [f for f in fields if f in options]:
        value = fields.pop(option)
        stages = [_with_option(s, option, value) for s in stages]
    if depths is not None:
        depths = check_int_sequence("depths", depths, length=len(stages))
        stages = [dataclasses.replace(s, depth=d) for s, d in zip(stages, depths)]
    if widths is not None:
        widths = check_int_sequence("widths", widths, length=len(stages))
        stages = [dataclasses.replace(s, filters=w) for s, w in zip(stages, widths)]
    stem = spec.stem
    if stem_kind is not None:
        STEMS.get(stem_kind)
        stem = dataclasses.replace(stem, kind=stem_kind)
    if width_multiplier is not None:
        check_float("width_multiplier", width_multiplier, 0.0, min_inclusive=False)

        def scale(filters):
            return max(1, int(round(filters * width_multiplier)))

        stages = [dataclasses.replace(s, filters=scale(s.filters)) for s in stages]
        stem = dataclasses.replace(stem, filters=scale(stem.filters))
    return spec.replace(stem=stem, stages=tuple(stages), **fields)


def _block_options(stages):
    """The options of the blocks the stages use."""
    return [o for s in stages for o in get_block(s.block).options]


def _transition_options(stages):
    """The options of the transitions the stages use."""
    return [
        o
        for s in stages
        if s.transition is not None
        for o in get_block(s.transition).options
    ]


def _with_option(stage, option, value):
    """`stage` with `option` set in the args of its block and of its
    transition, wherever that block registers the option."""
    if option in get_block(stage.block).options:
        stage = dataclasses.replace(stage, args=dict(stage.args, **{option: value}))
    if stage.transition is not None and option in get_block(stage.transition).options:
        stage = dataclasses.replace(
            stage, transition_args=dict(stage.transition_args, **{option: value})
        )
    return stage
