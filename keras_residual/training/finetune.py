"""Fine-tuning from pretrained weights: the model built with them (through
`build()`, which resolves `weights=` with `keras_residual.models.weights_request`),
and the trainable set and learning rates of the two phases.

Phase 1 trains the new classifier only; the backbone is frozen, so its
BatchNorm layers run in inference mode. Phase 2 unfreezes all of the
backbone, or its last N stages, with a lower learning rate than the head
(a ratio, or a factor that decays stage by stage) and, by default, frozen
BatchNorm layers.
"""

import keras

from keras_residual.core.builder import stage_name
from keras_residual.models.zoo import build
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER


def build_pretrained(request, model, input_shape, classes, preprocessing, **overrides):
    """Builds `model` for `input_shape` and `classes` with the resolved
    weights, all or nothing (`build()` loads them); a different number of
    classes gets a new classifier, and a printed line says so.

    Args:
        request: `WeightsRequest`. From `resolve_weights`.
        model: str or spec. What to build.
        input_shape: tuple. The data's image shape.
        classes: int. The data's classes.
        preprocessing: str. The mode the data is scaled with; it may differ
            from the weights' when `train(preprocessing=...)` says so.
        **overrides: `build()` overrides.
    """
    network = build(
        model,
        input_shape=input_shape,
        classes=classes,
        weights=request,
        **overrides,
    )
    network.preprocessing = preprocessing
    if request.classes is not None and request.classes != classes:
        print(
            f"Fine-tuning from {request.weights}: new {classes}-class "
            f"classifier {CLASSIFIER_LAYER!r} (the weights have "
            f"{request.classes} classes).",
            flush=True,
        )
    return network


def layer_ranks(model):
    """`{layer name: rank}` for a `ResidualModel`: the stem ranks 0, stage
    `s` (its blocks and transition) ranks `s + 1`, the final norm ranks
    with the last stage and the classifier ranks `len(stages) + 1`.

    Args:
        model: `ResidualModel`. The model.
    """
    spec = model.spec
    last = len(spec.stages)
    prefixes = []
    for s in range(last):
        prefixes.append((f"{stage_name(spec, s)}_", s + 1))
        prefixes.append((f"pool{spec.first_stage_index + s}_", s + 1))
    if spec.final_norm_prefix:
        prefixes.append((f"{spec.final_norm_prefix}_", last))
    elif spec.final_norm_prefix is not None:  # `bn` and `relu`, or ViT's `norm`
        prefixes.extend((name, last) for name in ("bn", spec.activation, "norm"))
    ranks = {}
    for layer in model.layers:
        if layer.name == CLASSIFIER_LAYER:
            ranks[layer.name] = last + 1
            continue
        ranks[layer.name] = next(
            (rank for prefix, rank in prefixes if layer.name.startswith(prefix)), 0
        )
    return ranks


def check_unfreeze(recipe, model):
    """Refuses an `unfreeze` larger than the model's number of stages.

    Args:
        recipe: `Recipe`. The fine-tuning recipe.
        model: `ResidualModel`. The model.
    """
    stages = len(model.spec.stages)
    if recipe.unfreeze != "all" and recipe.unfreeze > stages:
        raise ValueError(
            f"`unfreeze` must be 'all' or a number of stages in [0, {stages}] "
            f"for {model.name} ({stages} stages); received {recipe.unfreeze!r}."
        )


def set_phase(model, phase, recipe):
    """Sets the trainable layers of fine-tuning `phase` (1 or 2) and returns
    the learning-rate multipliers of the trainable variables (those other
    than 1; none in phase 1).

    Args:
        model: `ResidualModel`. The model.
        phase: int. 1 (head only) or 2 (the unfrozen backbone too).
        recipe: `Recipe`. Supplies `unfreeze`, `backbone_lr_ratio`,
            `layer_decay` and `freeze_bn`.
    """
    if phase == 2 and recipe.layer_decay is None and recipe.backbone_lr_ratio == "auto":
        raise ValueError(
            "`backbone_lr_ratio='auto'` is chosen by the linear probe; pass "
            "the recipe through `linear_probe.probe_and_choose_rate` (as "
            "`train` does) or give a ratio."
        )
    ranks = layer_ranks(model)
    head = len(model.spec.stages) + 1
    # The lowest rank phase 2 trains: the stem for "all", else the first of
    # the last `unfreeze` stages.
    lowest = 0 if recipe.unfreeze == "all" else head - recipe.unfreeze
    multipliers = {}
    for layer in model.layers:
        rank = ranks[layer.name]
        trainable = rank == head or (phase == 2 and rank >= lowest)
        if recipe.freeze_bn and isinstance(layer, keras.layers.BatchNormalization):
            trainable = trainable and rank == head
        layer.trainable = trainable
        if not trainable or rank == head:
            continue
        factor = (
            recipe.layer_decay ** (head - rank)
            if recipe.layer_decay is not None
            else recipe.backbone_lr_ratio
        )
        if factor != 1.0:
            multipliers.update({v.path: factor for v in layer.trainable_weights})
    return multipliers
