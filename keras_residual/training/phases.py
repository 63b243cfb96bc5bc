"""Running a training plan with `fit`: one phase from scratch, or a
fine-tune's two (the head alone, then the backbone too), resumable after a
kill in either, with the fine-tune's start model scored and kept as the
candidate to beat and a divergence guard that rolls back.

Phase 1 checkpoints into `run_dir/checkpoints/head/`, phase 2 into
`run_dir/checkpoints/` like any run. A resumed run with a phase-2
checkpoint skips phase 1 and restores phase 2's trainable set and
optimizer state; one without goes on with phase 1."""

import os

import keras

from keras_residual.data.balance import class_weights
from keras_residual.data.balance import describe_balance
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
from keras_residual.training.finetune import check_unfreeze
from keras_residual.training.finetune import set_phase
from keras_residual.training.linear_probe import probe_and_choose_rate
from keras_residual.training.optimizers import detach_average
from keras_residual.training.phase_plan import describe_plan
from keras_residual.training.phase_plan import effective_batch

# Steps per epoch where the training split's size is unknown.
UNKNOWN_STEPS = 1000


def fit_in_phases(network, data, plan, callbacks=()):
    """Trains `network` on `data` as `plan` says: every layer in one phase
    from scratch, or, with pretrained weights, the head alone for
    `recipe.head_epochs` epochs (none when 0) and then the backbone too.

    Args:
        network: `ResidualModel`. The model, with its pretrained weights.
        data: `DataBundle`. The data.
        plan: `RunPlan`. The recipe, the run directory (`artifact_dir`),
            the batch size, the distribution's scope and the run options
            `fit` reads (`jit_compile`, `verbose`, `tensorboard`, `ema`,
            `class_weight`); pretrained weights make it a fine-tune.
        callbacks: sequence. Extra callbacks, run first in both phases.
            Defaults to `()`.

    Returns:
        `(backup, guard)`: phase 2's `ResumableBackup` (its rows hold every
        epoch) and the `NonFiniteLossGuard` that stopped training, if any.
    """
    if plan.pretrained is not None:
        check_unfreeze(plan.recipe, network)
    phases = _Phases(network, data, plan, callbacks)
    if phases.fine_tune and plan.recipe.head_epochs:
        if phases.backup.read_state() is None:  # phase 2 has not begun
            head, head_guard = phases.fit_head()
            if head_guard.stopped_at is not None:
                return head, head_guard
    return phases.fit_all()


class _Phases:
    """What both phases share: the model, data, plan, `fit`'s arguments
    and callbacks, phase 2's backup and guard."""

    def __init__(self, network, data, plan, callbacks):
        self.network, self.data, self.plan = network, data, plan
        self.fine_tune = plan.pretrained is not None
        self.steps = data.steps_per_epoch or UNKNOWN_STEPS
        self.extra = [  # in both phases, after the shared callbacks
            Throughput(data.sizes["train"] or self.steps * plan.batch_size),
            LearningRateLog(),
        ]
        self.recipe_callbacks = plan.recipe.callbacks(
            plan.artifact_dir, tensorboard=plan.run.tensorboard
        )
        self.backup, self.guard = (
            next(c for c in self.recipe_callbacks if isinstance(c, kind))
            for kind in (ResumableBackup, NonFiniteLossGuard)
        )
        self.fit = dict(
            validation_data=data.validation,
            verbose=plan.run.verbose,
            shuffle=False,
            class_weight=_class_weights(data, plan.run.class_weight),
        )
        self.callbacks = _shared_callbacks(data, plan.run.ema, callbacks)

    def compile(self, recipe, epochs, batch_size, multipliers=None):
        """Compiles the model in the distribution's scope for a phase.

        Args:
            recipe: `Recipe`. The phase's recipe (its rate).
            epochs: int. The phase's epochs (its schedule's length).
            batch_size: int. The batch its rate scales with.
            multipliers: dict or None. Per-layer rate multipliers.
                Defaults to `None`.
        """
        run = self.plan.run
        with self.plan.distribution.scope():
            self.network.compile(
                **recipe.compile_kwargs(
                    self.network,
                    self.steps,
                    epochs,
                    batch_size,
                    run.jit_compile,
                    multipliers=multipliers or None,
                    ema=run.ema,
                )
            )

    def fit_head(self):
        """Phase 1: the new head alone. Returns its backup and guard."""
        recipe, run_dir = self.plan.recipe, self.plan.artifact_dir
        print(
            describe_plan(recipe, recipe.head_epochs, self.steps, self.plan.batch_size),
            flush=True,
        )
        set_phase(self.network, 1, recipe)
        self.compile(recipe, recipe.head_epochs, self.plan.batch_size)
        head = ResumableBackup(
            os.path.join(run_dir, "checkpoints", "head"),
            csv_path=os.path.join(run_dir, "history.csv"),
        )
        head_guard = NonFiniteLossGuard()
        # Phase 1's best epoch competes with phase 2's for `best.keras`.
        best = BestModelCheckpoint(
            os.path.join(run_dir, "checkpoints", "best.keras"), backup=head
        )
        self.network.fit(
            self.data.train,
            epochs=recipe.head_epochs,
            callbacks=[*self.callbacks, *self.extra, head_guard, head, best],
            **self.fit,
        )
        detach_average(self.network)
        self.backup.rows = list(head.rows)
        self.backup.resumed_from = head.resumed_from
        return head, head_guard

    def fit_all(self):
        """Phase 2, or the one phase from scratch; after a divergence, again
        from the last good epoch at a tenth of the rate (the checkpoint's
        optimizer step count keeps its place in the schedule)."""
        plan, network, backup = self.plan, self.network, self.backup
        first = plan.recipe.head_epochs if self.fine_tune else 0
        recipe, start, multipliers, rollback = plan.recipe, None, None, None
        if self.fine_tune:
            recipe, start = prepare_phase_two(
                network, self.data, recipe, self.steps, backup, plan.artifact_dir
            )
            multipliers = set_phase(network, 2, recipe)
            rollback = read_rollback(plan.artifact_dir)
        batch = plan.batch_size
        if self.fine_tune:  # the batch its rate scales with
            batch = effective_batch(plan.batch_size, self.data)
        epochs = recipe.epochs - first
        print(
            describe_plan(recipe, epochs, self.steps, batch, backbone=self.fine_tune),
            flush=True,
        )
        while True:
            factor = 1.0 if rollback is None else ROLLBACK_RATE_FACTOR
            diverging = DivergenceGuard(start) if start and rollback is None else None
            rate = recipe.replace(learning_rate=recipe.learning_rate * factor)
            self.compile(rate, epochs, batch, multipliers)
            self._fit(recipe, first if rollback is None else rollback, diverging)
            if diverging is None or diverging.diverged_at is None:
                return backup, self.guard
            rollback = self._rollback_epoch(diverging, first)
            if diverging.diverged_at == recipe.epochs:
                return backup, self.guard
            write_rollback(plan.artifact_dir, rollback)
            backup.announce = False

    def _fit(self, recipe, initial_epoch, diverging):
        tracking = self.fine_tune and recipe.reestimate_bn and not recipe.freeze_bn
        with epoch_length_momentum(self.network, self.steps if tracking else None):
            self.network.fit(
                self.data.train,
                initial_epoch=initial_epoch,
                epochs=recipe.epochs,
                callbacks=[
                    *self.callbacks,
                    *self.extra,
                    *([diverging] if diverging else []),
                    *self.recipe_callbacks,
                ],
                **self.fit,
            )
        detach_average(self.network)

    def _rollback_epoch(self, diverging, first):
        """The epoch to go on from after a divergence: the guard's, or
        after a non-finite loss (whose epoch was not saved; the guard
        restored the weights) the last one saved."""
        if self.guard.stopped_at is None:
            return diverging.diverged_at
        self.guard.stopped_at = None
        state = self.backup.read_state()
        return state["epoch"] if state else first


def _class_weights(data, class_weight):
    """`fit`'s class weights (None without them), said in one line with
    the balanced sampler's effect."""
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
    return weights


def _shared_callbacks(data, ema, callbacks):
    """Both phases' first callbacks: the epoch clock of an epoch-seeded
    pipeline, the user's, and the EMA swap (validation sees the average)."""
    if data.epoch_clock is not None:
        callbacks = [EpochClock(data.epoch_clock), *callbacks]
    if ema is not None:
        print(
            f"Weight average (EMA, decay {ema}): validation, the best "
            "checkpoint, the test figures and the export use it.",
            flush=True,
        )
        callbacks = [*callbacks, keras.callbacks.SwapEMAWeights()]
    return list(callbacks)


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
