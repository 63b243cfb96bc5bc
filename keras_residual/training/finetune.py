"""Fine-tuning from pretrained weights: reading `weights=` (a registered
name, a weights file, a `.keras` file or a run directory) into a new model,
and the trainable set and learning rates of the two phases.

Phase 1 trains the new classifier only; the backbone is frozen, so its
BatchNorm layers run in inference mode. Phase 2 unfreezes all of the
backbone, or its last N stages, with a lower learning rate than the head
(a ratio, or a factor that decays stage by stage) and, by default, frozen
BatchNorm layers.
"""

import dataclasses
import os

import keras

from keras_residual.core.builder import stage_name
from keras_residual.models.zoo import build
from keras_residual.training.callbacks import BestModelCheckpoint
from keras_residual.training.callbacks import NonFiniteLossGuard
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.callbacks import Throughput
from keras_residual.training.linear_probe import probe_and_choose_rate
from keras_residual.training.runs import load_trained_model
from keras_residual.weights.converters import read_checkpoint
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import adapt_input_channels
from keras_residual.weights.hdf5 import load_weights_but_classifier
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.state_dict import checkpoint_format


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """A resolved `weights=` argument of `train()`.

    Args:
        weights: str. What the user passed (a name, or an absolute path).
        kind: str. `"registered"`, `"file"` (HDF5), `"checkpoint"` (a
            timm/torchvision state dict) or `"keras"` (a `.keras` file or a
            run directory).
        preprocessing: str or None. The mode the weights were trained with.
        input_size: tuple or None. `(height, width)` they were trained at.
        classes: int or None. Their classifier's size.
        source_model: `keras.Model` or None. The loaded model (`"keras"`).
    """

    weights: str
    kind: str
    preprocessing: str = None
    input_size: tuple = None
    classes: int = None
    source_model: object = None


def resolve_pretrained(weights, model):
    """Reads what `train(weights=...)` names, before any data is loaded.

    Args:
        weights: str or path. A weights name registered for `model`, a
            weights file (`.h5`, `.weights.h5`), a `.keras` file or a run
            directory of `train()`.
        model: str or spec. The `model` argument of `train()`.

    Returns:
        A `Pretrained`.
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "`weights` must be a registered weights name or a path; received "
            f"{weights!r} of type {type(weights).__name__}."
        )
    weights = os.fspath(weights)
    entry = get_weights_entry(model, weights) if isinstance(model, str) else None
    if entry is not None:
        size = entry.input_size
        return Pretrained(
            weights,
            "registered",
            entry.preprocessing,
            None if size is None else (size, size),
            entry.classes,
        )
    if os.path.isdir(weights) or weights.endswith(".keras"):
        if not os.path.exists(weights):
            raise ValueError(f"`weights` file not found: {weights!r}.")
        source, _ = load_trained_model(weights, argument="`weights`", compile=False)
        if not hasattr(source, "spec"):
            raise ValueError(
                f"`weights` {weights!r} holds a {type(source).__name__}, not a "
                "keras_residual model; load its weights into a keras_residual "
                "model and save that."
            )
        size = tuple(source.image_shape[:2])
        return Pretrained(
            os.path.abspath(weights),
            "keras",
            source.preprocessing,
            None if None in size else size,
            source.classes if source.include_top else None,
            source,
        )
    if os.path.isfile(weights) and checkpoint_format(weights) in (
        "safetensors",
        "torch",
    ):
        architecture = read_checkpoint(weights).architecture
        return Pretrained(
            os.path.abspath(weights), "checkpoint", classes=architecture.classes
        )
    if os.path.isfile(weights):
        return Pretrained(os.path.abspath(weights), "file")
    raise ValueError(
        f"`weights` {weights!r} is neither a weights name registered for "
        f"{model!r} nor an existing file or run directory. Pass a registered "
        "name (see keras_residual.list_weights()), an .h5, .weights.h5, "
        ".safetensors, .pth or .keras file, or a run directory of "
        "keras_residual.train."
    )


def build_pretrained(
    pretrained, model, input_shape, classes, preprocessing, **overrides
):
    """Builds `model` for `input_shape` and `classes` with the pretrained
    weights, all or nothing; a different number of classes gets a new
    classifier (and a printed line says so).

    Args:
        pretrained: `Pretrained`. From `resolve_pretrained`.
        model: str or spec. What to build.
        input_shape: tuple. The data's image shape.
        classes: int. The data's classes.
        preprocessing: str. The mode the data is scaled with.
        **overrides: `build()` overrides.
    """
    # build() loads registered weights and PyTorch checkpoints itself (in
    # the checkpoint's layout, with a new classifier where classes differ).
    by_build = pretrained.kind in ("registered", "checkpoint")
    network = build(
        model,
        input_shape=input_shape,
        classes=classes,
        weights=pretrained.weights if by_build else None,
        **overrides,
    )
    # What the model is trained on from here; it may differ from what the
    # weights saw when `train(preprocessing=...)` says so.
    network.preprocessing = preprocessing
    if pretrained.kind == "keras":
        _copy_weights(pretrained.source_model, network, pretrained.weights)
    elif pretrained.kind == "file":
        load_weights_but_classifier(network, pretrained.weights)
    if pretrained.classes is not None and pretrained.classes != classes:
        print(
            f"Fine-tuning from {pretrained.weights}: new {classes}-class "
            f"classifier {CLASSIFIER_LAYER!r} (the weights have "
            f"{pretrained.classes} classes).",
            flush=True,
        )
    return network


def _copy_weights(source, network, weights):
    """Copies `source`'s variables into `network` layer by layer, by name;
    only the classifier may differ (it is left new), the first convolution
    is adapted to another number of input channels (timm's rule), and
    neither model may have a weighted layer the other lacks. Checks
    everything before assigning anything."""
    pairs = []
    first = True
    for layer in network.layers:
        if not layer.weights:
            continue
        try:
            origin = source.get_layer(layer.name)
        except ValueError:
            origin = None
        shapes = [tuple(v.shape) for v in layer.weights]
        values = None if origin is None else origin.get_weights()
        if first and values is not None:
            values = adapt_input_channels(values, shapes, layer.name, network.name)
        first = False
        found = None if values is None else [tuple(v.shape) for v in values]
        if found == shapes:
            pairs.append((layer, values))
        elif layer.name != CLASSIFIER_LAYER:
            raise ValueError(
                f"`weights` {weights!r} does not fit {network.name}: its layer "
                f"{layer.name!r} has shapes {found}, the model expects {shapes}. "
                "It belongs to another architecture; nothing was loaded."
            )
    ours = {layer.name for layer in network.layers}
    extra = [
        layer.name
        for layer in source.layers
        if layer.weights and layer.name not in ours
    ]
    if extra:
        raise ValueError(
            f"`weights` {weights!r} does not fit {network.name}: it has layers "
            f"the model lacks ({', '.join(extra[:3])}"
            f"{', ...' if len(extra) > 3 else ''}). It belongs to another "
            "architecture; nothing was loaded."
        )
    for layer, values in pairs:
        layer.set_weights(values)


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
    if spec.final_norm:
        prefixes.append((f"{spec.final_norm}_", last))
    elif spec.final_norm is not None:  # `bn` and `relu`, or ViT's `norm`
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


def fit_in_phases(
    network,
    data,
    recipe,
    run_dir,
    *,
    fine_tune=True,
    epochs,
    steps,
    batch_size,
    jit_compile,
    scope,
    callbacks,
    verbose,
):
    """Trains with plain `fit`, from scratch in one phase, or fine-tunes in
    two, resumable after a kill in either: phase 1 (the head,
    `recipe.head_epochs` epochs; none when 0) checkpoints into
    `run_dir/checkpoints/head/`, phase 2 into `run_dir/checkpoints/` like
    any run. A resumed run with a phase-2
    checkpoint skips phase 1 and restores phase 2's trainable set and
    optimizer state; one without goes on with phase 1.

    Args:
        network: `ResidualModel`. The model with its pretrained weights.
        data: `DataBundle`. The data.
        recipe: `Recipe`. Its fine-tuning fields decide the phases.
        run_dir: str. The run directory.
        fine_tune: bool. Two phases from pretrained weights; False trains
            every layer in one phase, from scratch. Defaults to `True`.
        epochs: int. Epochs of both phases together.
        steps: int. Steps per epoch.
        batch_size: int. The global batch size.
        jit_compile: `"auto"`, True or False.
        scope: callable. Returns the distribution scope to compile in.
        callbacks: sequence. Extra callbacks, run first in both phases.
        verbose: int. `fit`'s verbosity.

    Returns:
        `(backup, guard)`: phase 2's `ResumableBackup` (its rows hold every
        epoch) and the `NonFiniteLossGuard` that stopped training, if any.
    """
    if fine_tune:
        check_unfreeze(recipe, network)
    meter = Throughput(data.sizes["train"] or steps * batch_size)
    recipe_callbacks = recipe.callbacks(run_dir)
    backup = next(c for c in recipe_callbacks if isinstance(c, ResumableBackup))
    guard = next(c for c in recipe_callbacks if isinstance(c, NonFiniteLossGuard))
    fit = dict(validation_data=data.validation, verbose=verbose, shuffle=False)
    head = ResumableBackup(
        os.path.join(run_dir, "checkpoints", "head"),
        csv_path=os.path.join(run_dir, "history.csv"),
    )
    # Phase 1, unless a phase-2 checkpoint shows it is done.
    if fine_tune and recipe.head_epochs and backup.read_state() is None:
        set_phase(network, 1, recipe)
        with scope():
            network.compile(
                **recipe.compile_kwargs(
                    network, steps, recipe.head_epochs, batch_size, jit_compile
                )
            )
        head_guard = NonFiniteLossGuard()
        # Phase 1's best epoch competes with phase 2's for `best.keras`.
        best = BestModelCheckpoint(
            os.path.join(run_dir, "checkpoints", "best.keras"), backup=head
        )
        network.fit(
            data.train,
            epochs=recipe.head_epochs,
            callbacks=[*callbacks, meter, head_guard, head, best],
            **fit,
        )
        if head_guard.stopped_at is not None:
            return head, head_guard
        backup.rows = list(head.rows)
        backup.resumed_from = head.resumed_from
    first_epoch = recipe.head_epochs if fine_tune else 0
    multipliers = None
    if fine_tune:
        if recipe.linear_probe:
            recipe = probe_and_choose_rate(
                network, data, recipe, steps, backup, run_dir
            )
        multipliers = set_phase(network, 2, recipe)
    with scope():
        network.compile(
            **recipe.compile_kwargs(
                network,
                steps,
                epochs - first_epoch,
                batch_size,
                jit_compile,
                multipliers=multipliers or None,
            )
        )
    network.fit(
        data.train,
        initial_epoch=first_epoch,
        epochs=epochs,
        callbacks=[*callbacks, meter, *recipe_callbacks],
        **fit,
    )
    return backup, guard
