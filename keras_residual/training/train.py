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
import json
import os
import time

import keras

from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.data.loader import load_data
from keras_residual.models.zoo import build
from keras_residual.models.zoo import model_spec
from keras_residual.training.callbacks import NonFiniteLossGuard
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.callbacks import Throughput
from keras_residual.training.distribute import setup_distribution
from keras_residual.training.finetune import build_pretrained
from keras_residual.training.finetune import fit_in_phases
from keras_residual.training.finetune import resolve_pretrained
from keras_residual.training.precision import set_precision
from keras_residual.training.precision_probe import probe_shapes
from keras_residual.training.presets import run_recipe
from keras_residual.training.runs import check_run_dir
from keras_residual.training.runs import diverged_message
from keras_residual.training.runs import keep_best_epoch
from keras_residual.training.runs import run_metrics
from keras_residual.training.runs import write_artifacts
from keras_residual.utils.atomic import write_json
from keras_residual.utils.dtype_policy import global_dtype_policy
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int


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
        image_shape: tuple. `(height, width, channels)`.
        overrides: dict or None. `build()` overrides. Defaults to `None`.
    """
    return probe_shapes(model_spec(model, **(overrides or {})), image_shape)


def train(
    model="ResNet20",
    dataset="digits",
    out="runs/run",
    *,
    epochs=None,
    batch_size=None,
    recipe=None,
    weights=None,
    preprocessing=None,
    precision="auto",
    jit_compile="auto",
    seed=0,
    resume=False,
    distribute="none",
    coordinator_address=None,
    num_processes=None,
    process_id=None,
    data_dir=None,
    download=False,
    image_size=None,
    classes=None,
    augment="auto",
    color_mode="auto",
    class_names=None,
    skip_bad_images=False,
    export=True,
    verbose=1,
    model_overrides=None,
    recipe_overrides=None,
    callbacks=(),
):
    """Trains a zoo model (or spec) with a recipe, writing a run directory.

    Args:
        model: str, `ModelSpec` or dict. What to build. Defaults to
            `"ResNet20"`.
        dataset: str, tuple or dict. See `load_data`. Defaults to `"digits"`.
        out: str. The run directory. Defaults to `"runs/run"`.
        epochs: int or None. Defaults to the recipe's.
        batch_size: int or None. Global batch size; the learning rate
            scales with it. Defaults to the recipe's.
        recipe: str or `Recipe`. Defaults to `"finetune"` with `weights`,
            else `"fast"`.
        weights: str, path or None. Start from pretrained weights: a name
            registered for `model` (`"imagenet"`, `"digits"`), a weights
            file, a `.keras` file or a run directory. The recipe's
            fine-tuning fields apply: `head_epochs` of the head alone, the
            `linear_probe` (`"finetune"` fits the new classifier on the
            frozen features first), then `unfreeze`, `backbone_lr_ratio`
            (`"auto"`: from the probe), `layer_decay` and `freeze_bn` (see
            `keras_residual.training.finetune` and `.linear_probe`); with
            another number of classes the classifier is new. Defaults to
            `None` (from scratch).
        preprocessing: str or None. How the data is scaled: `"tf"`,
            `"caffe"` or `"torch"`. Defaults to the weights' own, else
            `"tf"`.
        precision: str. `"auto"`, `"float32"`, `"mixed_float16"` or
            `"mixed_bfloat16"`. Defaults to `"auto"`.
        jit_compile: `"auto"`, True or False. Defaults to `"auto"`.
        seed: int. Seeds initialisation, shuffling and augmentation.
            Defaults to `0`.
        resume: bool. Continue the run in `out` from its last completed
            epoch. Without it, an existing run in `out` is refused.
            Defaults to `False`.
        distribute: str. `"none"`, `"mirrored"` or `"data_parallel"`.
            Defaults to `"none"`.
        coordinator_address: str or None. Multi-process JAX: process 0's
            `host:port`.
        num_processes: int or None. Multi-process JAX: process count.
        process_id: int or None. Multi-process JAX: this process's index.
        data_dir: str or None. TFDS data directory, also searched for
            Fashion-MNIST's IDX files.
        download: bool. Let TFDS download missing data. Defaults to `False`.
        image_size: int or None. Resize images. Defaults to the size the
            weights were trained at, else the data's.
        classes: int or None. Classifier size. Defaults to the data's.
        augment: str. See `load_data`. Defaults to `"auto"`.
        color_mode: str. An image folder's channels: `"auto"` (grey when
            all its images are grey), `"rgb"` or `"grayscale"`. Pretrained
            weights of another channel count are adapted (timm's rule).
            Defaults to `"auto"`.
        class_names: sequence of str or None. Names of the classes of array
            data (folders and TFDS name their own). The model records the
            data's names (`model.class_names`), so `model.keras`, the
            SavedModel and `predict` show them. Defaults to `None`.
        skip_bad_images: bool. Leave out an image folder's files that
            cannot be decoded instead of refusing it (see `load_data`).
            Defaults to `False`.
        export: bool. Write `model.keras` and `saved_model/` at the end
            (process 0 only).
            Defaults to `True`.
        verbose: int. `fit`'s verbosity (1 shows a progress bar). Defaults
            to `1`.
        model_overrides: dict or None. `build()` overrides such as
            `{"depths": (1, 1, 1)}`.
        recipe_overrides: dict or None. Recipe fields, e.g.
            `{"learning_rate": 0.05}`.
        callbacks: sequence. Extra callbacks.

    Returns:
        A `RunResult`.

    Raises:
        TrainingDiverged: when the loss becomes non-finite; the last good
            checkpoint is kept.
    """
    started = time.perf_counter()
    recipe = run_recipe(recipe, weights, epochs, recipe_overrides)
    epochs = recipe.epochs
    pretrained = None if weights is None else resolve_pretrained(weights, model)
    if preprocessing is None:
        preprocessing = (pretrained and pretrained.preprocessing) or "tf"
    check_choice("preprocessing", preprocessing, PREPROCESSING_MODES)
    batch_size = (
        recipe.batch_size
        if batch_size is None
        else check_int("batch_size", batch_size, minimum=1)
    )
    settings = {
        "model": model if isinstance(model, str) else _jsonable(model),
        "dataset": dataset if isinstance(dataset, str) else "arrays",
        "recipe": recipe.name,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "image_size": image_size,
        "classes": classes,
        "augment": augment,
        "color_mode": color_mode,
        "model_overrides": _jsonable(model_overrides or {}),
        "recipe_overrides": _jsonable(recipe_overrides or {}),
        "weights": pretrained.weights if pretrained else None,
        "preprocessing": preprocessing,
    }
    distribution = setup_distribution(
        distribute, coordinator_address, num_processes, process_id
    )
    run_dir = os.path.abspath(out)
    artifact_dir = (
        run_dir
        if distribution.is_chief
        else os.path.join(run_dir, f"process-{distribution.process_id}")
    )
    check_run_dir(artifact_dir, settings, resume)

    keras.utils.set_random_seed(seed)
    data = load_data(
        dataset,
        batch_size=batch_size,
        image_size=(
            image_size
            if image_size is not None
            else (pretrained and pretrained.input_size)
        ),
        preprocessing=preprocessing,
        augment=augment,
        data_dir=data_dir,
        download=download,
        seed=seed,
        classes=classes,
        uniform_batches=distribution.num_processes > 1,
        skip_bad_images=skip_bad_images,
        class_names=class_names,
        color_mode=color_mode,
        default_image_size=(pretrained and pretrained.input_size)
        or model_spec(model, **(model_overrides or {})).default_size,
        **recipe.data_kwargs(),
    )
    # The caller's global dtype policy comes back when the run ends; the
    # returned model keeps the run's policy in its layers.
    with global_dtype_policy():
        # "auto" probes convolutions shaped like this model's stages at this
        # image size (cached), so the policy is set once the data is known.
        policy = set_precision(
            precision,
            shapes=model_probe_shapes(model, data.image_shape, model_overrides),
        )
        steps = data.steps_per_epoch or 1000
        with distribution.scope():
            if pretrained is None:
                network = build(
                    model,
                    input_shape=data.image_shape,
                    classes=data.classes,
                    preprocessing=data.preprocessing,
                    **(model_overrides or {}),
                )
            else:
                network = build_pretrained(
                    pretrained,
                    model,
                    data.image_shape,
                    data.classes,
                    data.preprocessing,
                    **(model_overrides or {}),
                )
        network.class_names = list(data.class_names)
        if not os.path.exists(os.path.join(artifact_dir, "run.json")):
            write_json(os.path.join(artifact_dir, "run.json"), settings)
        if pretrained is not None:
            backup, guard = fit_in_phases(
                network,
                data,
                recipe,
                artifact_dir,
                epochs=epochs,
                steps=steps,
                batch_size=batch_size,
                jit_compile=jit_compile,
                scope=distribution.scope,
                callbacks=callbacks,
                verbose=verbose,
            )
        else:
            backup, guard = _fit(
                network,
                data,
                recipe,
                artifact_dir,
                epochs,
                steps,
                batch_size,
                jit_compile,
                distribution,
                callbacks,
                verbose,
            )
        if guard.stopped_at is not None:
            raise TrainingDiverged(diverged_message(guard.stopped_at, backup))
        kept_epoch = (
            keep_best_epoch(
                network,
                backup.rows,
                os.path.join(artifact_dir, "checkpoints", "best.keras"),
                validation_size=data.sizes.get("validation"),
            )
            if recipe.keep_best
            else None
        )

        metrics = run_metrics(
            network,
            data,
            backup.rows,
            started,
            settings,
            policy,
            jit_compile,
            distribution,
            backup.resumed_from,
            kept_epoch,
        )
        write_artifacts(
            artifact_dir,
            network,
            backup.rows,
            metrics,
            export and distribution.is_chief,
        )
        return RunResult(network, backup.rows, metrics, artifact_dir)


def _fit(
    network,
    data,
    recipe,
    run_dir,
    epochs,
    steps,
    batch_size,
    jit_compile,
    distribution,
    callbacks,
    verbose,
):
    """One `fit` with the recipe's callbacks, from scratch. Returns
    `(backup, guard)`."""
    with distribution.scope():
        network.compile(
            **recipe.compile_kwargs(network, steps, epochs, batch_size, jit_compile)
        )
    recipe_callbacks = recipe.callbacks(run_dir)
    fit_kwargs = recipe.fit_kwargs(
        epochs=epochs,
        callbacks=[
            Throughput(data.sizes["train"] or steps * batch_size),
            *recipe_callbacks,
            *callbacks,
        ],
    )
    network.fit(
        data.train,
        validation_data=data.validation,
        verbose=verbose,
        shuffle=False,
        **fit_kwargs,
    )
    return (
        _find(recipe_callbacks, ResumableBackup),
        _find(recipe_callbacks, NonFiniteLossGuard),
    )


def _find(callbacks, kind):
    return next(c for c in callbacks if isinstance(c, kind))


def _jsonable(value):
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.loads(json.dumps(value, default=list))
