"""`train()`: one call (and `keras-residual train`) from a model name and a
dataset to a run directory, with plain `model.fit` underneath.

A run directory holds:

- `run.json`: the run's settings (a resumed run must match them);
- `checkpoints/`: the resumable state (`state.json`, `epoch-N.weights.h5`)
  and `best.keras` (best validation accuracy); a two-phase fine-tuning run
  keeps its first phase in `checkpoints/head/`;
- `history.csv`, `curves.png`, `logs/` (TensorBoard);
- `metrics.json`: `test_accuracy`, `params`, `wall_seconds`,
  `images_per_second`, ...;
- `model.keras` and `saved_model/`: the final model.
"""

import dataclasses
import os
import time

import keras

from keras_residual.data.balance import class_weights
from keras_residual.data.loader import load_data
from keras_residual.data.options import DataOptions
from keras_residual.models.zoo import build
from keras_residual.models.zoo import model_spec
from keras_residual.training.determinism import deterministic_ops
from keras_residual.training.fine_tune_guard import keep_start
from keras_residual.training.finetune import build_pretrained
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import RunOptions
from keras_residual.training.phases import fit_in_phases
from keras_residual.training.plan import plan_run
from keras_residual.training.precision import set_precision
from keras_residual.training.precision_probe import probe_shapes
from keras_residual.training.runs import check_run_dir
from keras_residual.training.runs import diverged_message
from keras_residual.training.runs import keep_best_epoch
from keras_residual.training.runs import run_metrics
from keras_residual.training.runs import write_artifacts
from keras_residual.utils.atomic import write_json
from keras_residual.utils.dtype_policy import global_dtype_policy
from keras_residual.utils.options import gather_options


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped."""


@dataclasses.dataclass
class RunResult:
    """What `train()` returns.

    Args:
        model: `keras.Model`. The trained model.
        history: list of dict. One row per completed epoch, all sessions.
        metrics: dict. The contents of `metrics.json`.
        run_dir: str. The run directory.
    """

    model: object
    history: list
    metrics: dict
    run_dir: str


def model_probe_shapes(model, image_shape, overrides=None):
    """The precision probe's shapes for `model` (a name or spec) with
    `overrides`, at `image_shape`.

    Args:
        model: str, `ModelSpec` or dict. The model.
        image_shape: tuple or None. `(height, width, channels)`; None for
            the probe's own shapes (returned as None).
        overrides: dict or None. `build()` overrides. Defaults to `None`.
    """
    if image_shape is None:
        return None
    return probe_shapes(model_spec(model, **(overrides or {})), image_shape)


def train(
    model="ResNet20",
    dataset="digits",
    out="runs/run",
    *,
    data=None,
    run=None,
    distribution=None,
    model_overrides=None,
    recipe_overrides=None,
    callbacks=(),
    **options,
):
    """Trains a zoo model (or spec) with a recipe, writing a run directory.

    Args:
        model: str, `ModelSpec` or dict. What to build. Defaults to
            `"ResNet20"`.
        dataset: str, tuple or dict. See `load_data`. Defaults to `"digits"`.
        out: str. The run directory. Defaults to `"runs/run"`.
        data: `DataOptions` or None. Batch size, image size, classes,
            augmentation, ... Defaults to `DataOptions()`.
        run: `RunOptions` or None. Epochs, recipe, weights, precision,
            seed, resume, ... Defaults to `RunOptions()`.
        distribution: `DistributionOptions` or None. Data parallelism.
            Defaults to `DistributionOptions()`.
        model_overrides: dict or None. `build()` overrides such as
            `{"depths": (1, 1, 1)}`.
        recipe_overrides: dict or None. Recipe fields, e.g.
            `{"learning_rate": 0.05}`.
        callbacks: sequence. Extra callbacks, run first.
        **options: any field of the three option groups by name, as in
            `train("ResNet20", "digits", "runs/a", epochs=3, batch_size=64)`;
            it overrides the group's field.

    Returns:
        A `RunResult`.

    Raises:
        TrainingDiverged: when the loss becomes non-finite; the last good
            checkpoint is kept.
    """
    started = time.perf_counter()
    groups = gather_options(
        "train",
        {
            "data": (DataOptions, data),
            "run": (RunOptions, run),
            "distribution": (DistributionOptions, distribution),
        },
        options,
    )
    plan = plan_run(model, dataset, out, groups, model_overrides, recipe_overrides)
    check_run_dir(plan.artifact_dir, plan.settings, plan.run.resume)
    keras.utils.set_random_seed(plan.run.seed)
    # The caller's global dtype policy and determinism setting come back
    # when the run ends; the returned model keeps the run's policy in its
    # layers.
    with deterministic_ops(plan.run.deterministic), global_dtype_policy():
        bundle = _load(plan)
        if plan.run.class_weight is not None:  # refused before run.json exists
            class_weights(plan.run.class_weight, bundle.require_class_counts())
        # "auto" probes convolutions shaped like this model's stages at this
        # image size (cached), so the policy is set once the data is known.
        front_end = plan.front_end(bundle)
        policy = set_precision(
            plan.run.precision,
            shapes=model_probe_shapes(
                model, _network_shape(bundle, front_end), plan.spec_overrides
            ),
        )
        # Again: a precision probe that was not cached drew numbers.
        keras.utils.set_random_seed(plan.run.seed)
        network = _build(plan, bundle, front_end)
        backup, guard = fit_in_phases(network, bundle, plan, callbacks)
        if guard.stopped_at is not None:
            raise TrainingDiverged(diverged_message(guard.stopped_at, backup))
        return _finish(plan, network, bundle, backup, policy, started)


def _load(plan):
    """The run's `DataBundle`."""
    return load_data(
        plan.dataset,
        **{
            **plan.data.load_kwargs(),
            "image_size": plan.image_size,  # the weights' where none is given
            "batch_size": plan.batch_size,
            "preprocessing": plan.preprocessing,
            "seed": plan.run.seed,
            "uniform_batches": plan.distribution.num_processes > 1,
            "default_image_size": plan.default_image_size,
            "epoch_seeded": plan.run.deterministic,
            **plan.recipe.data_kwargs(plan.data.augmentation),
        },
    )


def _network_shape(bundle, front_end):
    """The input shape of the network behind the front end (what the
    precision probe sizes its convolutions by); a waveform's is not an
    image's, so the probe's own shapes."""
    if front_end is None:
        return bundle.image_shape
    if front_end.kind == "waveform":
        return None
    return front_end.network_shape(bundle.image_shape[0])


def _build(plan, bundle, front_end):
    """The model, with its pretrained weights if any, and `run.json`."""
    # An audio model takes samples of any length (the front end records
    # the training length).
    input_shape = bundle.image_shape if front_end is None else (None,)
    overrides = {**plan.spec_overrides, "front_end": front_end}
    with plan.distribution.scope():
        if plan.pretrained is None:
            network = build(
                plan.model,
                input_shape=input_shape,
                classes=bundle.classes,
                preprocessing=bundle.preprocessing,
                **overrides,
            )
        else:
            network = build_pretrained(
                plan.pretrained,
                plan.model,
                input_shape,
                bundle.classes,
                bundle.preprocessing,
                **overrides,
            )
    network.class_names = list(bundle.class_names)
    if not os.path.exists(os.path.join(plan.artifact_dir, "run.json")):
        write_json(os.path.join(plan.artifact_dir, "run.json"), plan.settings)
    return network


def _finish(plan, network, bundle, backup, policy, started):
    """Keeps the best epoch (where the recipe says so), writes the metrics
    and artefacts, and returns the `RunResult`."""
    kept_epoch = (
        keep_best_epoch(
            network,
            backup.rows,
            os.path.join(plan.artifact_dir, "checkpoints", "best.keras"),
            validation_size=bundle.sizes.get("validation"),
        )
        if plan.recipe.keep_best
        else None
    )
    if plan.pretrained is not None and plan.recipe.keep_best:
        kept_epoch = keep_start(network, backup.rows, kept_epoch, plan.artifact_dir)
    metrics = run_metrics(
        network,
        bundle,
        backup.rows,
        started,
        plan.settings,
        policy,
        plan.run.jit_compile,
        plan.distribution,
        backup.resumed_from,
        kept_epoch,
    )
    write_artifacts(
        plan.artifact_dir,
        network,
        backup.rows,
        metrics,
        plan.run.export and plan.distribution.is_chief,
        phase_switch=plan.recipe.head_epochs if plan.pretrained is not None else None,
    )
    return RunResult(network, backup.rows, metrics, plan.artifact_dir)
