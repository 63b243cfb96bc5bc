"""Fine-tuning from pretrained weights: the model built with them (through
`build()`, which resolves `weights=` with `keras_residual.weights.resolve`),
and the trainable set and learning rates of the two phases.

Phase 1 trains the new classifier only; the backbone is frozen, so its
BatchNorm layers run in inference mode. Phase 2 unfreezes all of the
backbone, or its last N stages, with a lower learning rate than the head
(a ratio, or a factor that decays stage by stage) and, by default, frozen
BatchNorm layers.
"""

import os

import keras

from keras_residual.core.builder import stage_name
from keras_residual.data.balance import class_weights
from keras_residual.data.balance import describe_balance
from keras_residual.models.zoo import build
from keras_residual.training.batch_norm_statistics import epoch_length_momentum
from keras_residual.training.batch_norm_statistics import reestimate_batch_norm
from keras_residual.training.callbacks import BestModelCheckpoint
from keras_residual.training.callbacks import EpochClock
from keras_residual.training.callbacks import LearningRateLog
from keras_residual.training.callbacks import NonFiniteLossGuard
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.callbacks import Throughput
from keras_residual.training.fine_tune_guard import ROLLBACK_RATE_FACTOR
from keras_residual.training.fine_tune_guard import DivergenceGuard
from keras_residual.training.fine_tune_guard import fine_tune_beats_start
from keras_residual.training.fine_tune_guard import read_rollback
from keras_residual.training.fine_tune_guard import read_start
from keras_residual.training.fine_tune_guard import save_start
from keras_residual.training.fine_tune_guard import score_start
from keras_residual.training.fine_tune_guard import write_rollback
from keras_residual.training.linear_probe import probe_and_choose_rate
from keras_residual.training.optimizers import detach_average
from keras_residual.training.phase_plan import describe_plan
from keras_residual.training.phase_plan import effective_batch
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
    tensorboard=True,
    ema=None,
    class_weight=None,
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
        tensorboard: bool. Write TensorBoard logs. Defaults to `True`.
        ema: float or None. Weight-average decay: validation, `best.keras`
            and the model after `fit` use the average. Defaults to `None`.
        class_weight: str, dict or None. See `class_weights`; "balanced"
            reads the training split's class counts. Defaults to `None`.

    Returns:
        `(backup, guard)`: phase 2's `ResumableBackup` (its rows hold every
        epoch) and the `NonFiniteLossGuard` that stopped training, if any.
    """
    if fine_tune:
        check_unfreeze(recipe, network)
    meter = Throughput(data.sizes["train"] or steps * batch_size)
    rate = LearningRateLog()
    recipe_callbacks = recipe.callbacks(run_dir, tensorboard=tensorboard)
    backup = next(c for c in recipe_callbacks if isinstance(c, ResumableBackup))
    guard = next(c for c in recipe_callbacks if isinstance(c, NonFiniteLossGuard))
    weights = None
    if class_weight is not None:
        weights = class_weights(class_weight, data.require_class_counts())
    if weights is not None or data.sampler == "balanced":
        print(
            describe_balance(
                data.class_counts, data.class_names, data.sampler, weights
            ),
            flush=True,
        )
    fit = dict(
        validation_data=data.validation,
        verbose=verbose,
        shuffle=False,
        class_weight=weights,
    )
    if data.epoch_clock is not None:  # an epoch-seeded pipeline
        callbacks = [EpochClock(data.epoch_clock), *callbacks]
    if ema is not None:  # validation sees the average
        print(
            f"Weight average (EMA, decay {ema}): validation, the best "
            "checkpoint, the test figures and the export use it.",
            flush=True,
        )
        callbacks = [*callbacks, keras.callbacks.SwapEMAWeights()]
    head = ResumableBackup(
        os.path.join(run_dir, "checkpoints", "head"),
        csv_path=os.path.join(run_dir, "history.csv"),
    )
    # Phase 1, unless a phase-2 checkpoint shows it is done.
    if fine_tune and recipe.head_epochs and backup.read_state() is None:
        print(describe_plan(recipe, recipe.head_epochs, steps, batch_size), flush=True)
        set_phase(network, 1, recipe)
        with scope():
            network.compile(
                **recipe.compile_kwargs(
                    network,
                    steps,
                    recipe.head_epochs,
                    batch_size,
                    jit_compile,
                    ema=ema,
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
            callbacks=[*callbacks, meter, rate, head_guard, head, best],
            **fit,
        )
        detach_average(network)
        if head_guard.stopped_at is not None:
            return head, head_guard
        backup.rows = list(head.rows)
        backup.resumed_from = head.resumed_from
    first_epoch = recipe.head_epochs if fine_tune else 0
    multipliers = start = None
    if fine_tune:
        recipe, start = prepare_phase_two(network, data, recipe, steps, backup, run_dir)
        multipliers = set_phase(network, 2, recipe)
    rollback = read_rollback(run_dir) if fine_tune else None
    phase_batch = effective_batch(batch_size, data) if fine_tune else batch_size
    print(
        describe_plan(
            recipe, epochs - first_epoch, steps, phase_batch, backbone=fine_tune
        ),
        flush=True,
    )
    while True:
        # After a rollback, the same schedule at a tenth of the rate: the
        # checkpoint's optimizer step count keeps its place in it.
        factor = 1.0 if rollback is None else ROLLBACK_RATE_FACTOR
        diverging = DivergenceGuard(start) if start and rollback is None else None
        with scope():
            network.compile(
                **recipe.replace(
                    learning_rate=recipe.learning_rate * factor
                ).compile_kwargs(
                    network,
                    steps,
                    epochs - first_epoch,
                    phase_batch,
                    jit_compile,
                    multipliers=multipliers or None,
                    ema=ema,
                )
            )
        tracking = fine_tune and recipe.reestimate_bn and not recipe.freeze_bn
        with epoch_length_momentum(network, steps if tracking else None):
            network.fit(
                data.train,
                initial_epoch=first_epoch if rollback is None else rollback,
                epochs=epochs,
                callbacks=[
                    *callbacks,
                    meter,
                    rate,
                    *([diverging] if diverging else []),
                    *recipe_callbacks,
                ],
                **fit,
            )
        detach_average(network)
        if diverging is None or diverging.diverged_at is None:
            return backup, guard
        rollback = diverging.diverged_at
        if guard.stopped_at is not None:  # a non-finite loss: the guard
            guard.stopped_at = None  # restored the weights; that epoch was
            state = backup.read_state()  # not saved: go on after the last
            rollback = state["epoch"] if state else first_epoch
        if diverging.diverged_at == epochs:
            return backup, guard
        write_rollback(run_dir, rollback)
        backup.announce = False


def prepare_phase_two(network, data, recipe, steps, backup, run_dir):
    """Before phase 2 begins (not on a resumed phase 2): scores the model
    as given, re-estimates the BatchNorm statistics on the training data
    (`reestimate_bn`), fits the linear probe and chooses the backbone rate
    (`linear_probe`), scores the result, and saves the better of the two
    as the start model (`checkpoints/start.keras`), the candidate a
    fine-tune must beat. On a resumed phase 2, reads what was chosen.

    Args:
        network: `ResidualModel`. The model with its pretrained backbone.
        data: `DataBundle`. The data.
        recipe: `Recipe`. The fine-tuning recipe.
        steps: int. Training batches per epoch.
        backup: `ResumableBackup`. Phase 2's backup (has it begun?).
        run_dir: str. The run directory.

    Returns:
        `(recipe, start)`: the recipe with the chosen backbone rate, and
        the `StartScore` of the model phase 2 trains from (None without
        validation), which the divergence guard measures against.
    """
    begun = backup.read_state() is not None
    # The model as given is a candidate too (it matters when the
    # pretrained classifier is kept: the same classes).
    given = None
    if not begun:
        given = score_start(
            network,
            data.validation,
            data.sizes.get("validation"),
            recipe.label_smoothing,
        )
        given_weights = network.get_weights() if given else None
    if not begun and recipe.reestimate_bn and not recipe.freeze_bn:
        batches = reestimate_batch_norm(network, data.train, steps)
        print(
            f"BatchNorm statistics re-estimated on {batches} training batches.",
            flush=True,
        )
    if recipe.linear_probe:
        recipe = probe_and_choose_rate(network, data, recipe, steps, backup, run_dir)
    if begun:
        return recipe, read_start(run_dir)
    start = score_start(
        network, data.validation, data.sizes.get("validation"), recipe.label_smoothing
    )
    if start is None:
        return recipe, None
    if given is not None and not fine_tune_beats_start(
        {"val_accuracy": start.accuracy, "val_loss": start.loss}, given
    ):
        adapted = network.get_weights()
        network.set_weights(given_weights)
        save_start(network, run_dir, given)
        network.set_weights(adapted)
    else:
        save_start(network, run_dir, start)
    return recipe, start
