"""The run directory of `train()`: its identity (`run.json`, checked on
resume), its metrics and artefacts, and reading its model back."""

import math
import os
import time

import keras

from keras_residual.analysis.plots import plot_history
from keras_residual.core.preprocessing import preprocessing_json
from keras_residual.data.options import DataOptions
from keras_residual.serving.export import export as export_model
from keras_residual.training.options import RunOptions
from keras_residual.training.precision import detect_hardware
from keras_residual.training.precision import resolve_jit_compile
from keras_residual.utils.atomic import is_staging_name
from keras_residual.utils.atomic import remove_stale_staging
from keras_residual.utils.atomic import save_keras
from keras_residual.utils.atomic import write_json
from keras_residual.utils.keras_archive import load_keras_model
from keras_residual.utils.options import setting_names
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.weights.keras_source import load_trained_model  # noqa: F401

# Settings that must not change when a run is resumed.
RUN_IDENTITY = ("model", "dataset", "model_overrides", "recipe_overrides") + (
    setting_names(DataOptions, RunOptions)
)

# run.json, metrics.json: a few KB; the bound keeps a link to /dev/zero out.
MAX_RUN_FILE_BYTES = 1 << 20


# Fewer validation images than this: the log says how noisy the kept
# epoch's choice is.
SMALL_VALIDATION = 50

# What a run.json written before a setting existed meant by its absence.
OLDER_DEFAULTS = {
    "weights": None,
    "preprocessing": "tf",
    "color_mode": "auto",
    "augmentation": None,
    "sampler": "shuffle",
    "ema": None,
    "class_weight": None,
    "deterministic": False,
}


def check_run_dir(run_dir, settings, resume):
    """Refuses to overwrite a run, or to resume one with other settings.

    Args:
        run_dir: str. The run directory.
        settings: dict. This run's settings (`run.json`).
        resume: bool. Whether the run is resumed.
    """
    if os.path.isfile(run_dir):
        raise ValueError(f"`out` {run_dir!r} is a file, not a directory.")
    path = os.path.join(run_dir, "run.json")
    if not os.path.exists(path):
        foreign = (
            sorted(name for name in os.listdir(run_dir) if not is_staging_name(name))
            if os.path.isdir(run_dir)
            else []
        )
        if foreign:  # the user's files: a run would overwrite or delete them
            raise ValueError(
                f"`out` {run_dir!r} is not a run directory: it has no run.json "
                f"but holds {foreign[:5]}{' ...' if len(foreign) > 5 else ''}. "
                "A run writes run.json, metrics.json, history.csv, checkpoints/ "
                "and saved_model/ there; pass an empty or new directory (or, "
                "with --resume, the directory a run wrote)."
            )
    if os.path.lexists(path):
        saved = read_json_file(path, "The run's run.json", MAX_RUN_FILE_BYTES)
        if not isinstance(saved, dict):
            raise ValueError(
                f"The run's run.json {path!r} holds a {type(saved).__name__}, "
                "not the settings object a run writes; use another `out`."
            )
        if not resume:
            raise ValueError(
                f"`out` {run_dir!r} already holds a run (run.json). Pass "
                "resume=True (`--resume`) to continue it, or choose another "
                "directory."
            )
        saved = {key: saved.get(key, OLDER_DEFAULTS.get(key)) for key in RUN_IDENTITY}
        changed = [key for key in RUN_IDENTITY if saved[key] != settings.get(key)]
        if changed:
            details = ", ".join(
                f"{key}: {saved[key]!r} -> {settings.get(key)!r}" for key in changed
            )
            raise ValueError(
                f"Cannot resume {run_dir!r} with different settings ({details}). "
                "Rerun the same command with `--resume`, or use another `out`."
            )
        # A killed run's half-written exports (`.saved_model.*.tmp`): the
        # run directory belongs to this run, so nothing else writes there.
        remove_stale_staging(run_dir)


def keep_best_epoch(
    model, rows, best_path, monitor="val_accuracy", validation_size=None
):
    """Where the run's last epoch is worse on `monitor` than its best one
    by more than the validation set's noise (a collapse, or over-fitting),
    loads the best epoch's weights (saved in `best_path` by
    `BestModelCheckpoint`) into `model` and says so, so that `model.keras`,
    the export and the test figures are the best epoch's.

    The noise is one standard error of the last epoch's accuracy,
    `sqrt(p (1 - p) / n)` on `n` validation images: the best of many noisy
    epochs is biased upwards, so a best epoch within that margin is not
    evidence that the last one is worse.

    Args:
        model: `keras.Model`. The trained model.
        rows: list of dict. The history, one row per epoch.
        best_path: str. The best epoch's `.keras` file.
        monitor: str. An accuracy (higher is better, in [0, 1]). Defaults
            to `"val_accuracy"`.
        validation_size: int or None. Images in the validation split; None
            keeps any better epoch. Defaults to `None`.

    Returns:
        The epoch whose weights the model holds (the last one when kept).
    """
    scored = [row for row in rows if row.get(monitor) is not None]
    if not scored or not os.path.isfile(best_path):
        return rows[-1]["epoch"] if rows else None
    if validation_size and validation_size < SMALL_VALIDATION:
        accuracy = scored[-1][monitor]
        print(
            f"Only {validation_size} validation images decide the kept epoch: "
            f"one image is {100 / validation_size:.1f} points and one standard "
            f"error at {accuracy:.0%} is "
            f"{100 * validation_margin(accuracy, validation_size):.1f}; a "
            "larger validation split (validation_fraction) decides better.",
            flush=True,
        )
    best = max(scored, key=lambda row: row[monitor])
    last = rows[-1]
    if last.get(monitor) is None or best[monitor] <= last[monitor]:
        return last["epoch"]
    margin = validation_margin(last[monitor], validation_size)
    if best[monitor] - last[monitor] <= margin:
        print(
            f"Keeping the last epoch ({last[monitor]:.4f}): the best, epoch "
            f"{best['epoch']} ({best[monitor]:.4f}), is within one standard "
            f"error ({margin:.4f}) of it on {validation_size} validation images.",
            flush=True,
        )
        return last["epoch"]
    load_saved_weights(model, best_path)
    print(
        f"Validation accuracy fell from {best[monitor]:.4f} (epoch "
        f"{best['epoch']}) to {last[monitor]:.4f} (epoch {last['epoch']}): "
        f"keeping epoch {best['epoch']}'s weights for the test figures, "
        "model.keras and the export.",
        flush=True,
    )
    return best["epoch"]


def load_saved_weights(model, path):
    """Loads the weights of a `.keras` file this run saved (the best epoch,
    or the start) into `model`, layer by layer.

    Args:
        model: `keras.Model`. The run's model.
        path: str. A `.keras` file of the same architecture.
    """
    saved = load_keras_model(path)
    values = {layer.name: layer.get_weights() for layer in saved.layers}
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(values[layer.name])


def validation_margin(accuracy, size):
    """One standard error of an accuracy measured on `size` images, and at
    least one image (at 0 or 100% the standard error is 0, yet one image
    either way is within noise); 0 when the size is unknown.

    Args:
        accuracy: float. In [0, 1].
        size: int or None. The number of images.
    """
    if not size:
        return 0.0
    accuracy = min(max(float(accuracy), 0.0), 1.0)
    return max(math.sqrt(accuracy * (1.0 - accuracy) / size), 1.0 / size)


def run_metrics(
    model,
    data,
    rows,
    started,
    settings,
    policy,
    jit_compile,
    distribution,
    resumed_from,
    kept_epoch=None,
):
    """The contents of `metrics.json`: test results, sizes, timings and
    every setting of `run.json` that produced them.

    Args:
        model: `keras.Model`. The trained model.
        data: `DataBundle`. The data.
        rows: list of dict. The history, one row per epoch.
        started: float. `time.perf_counter()` at the start.
        settings: dict. The run's settings.
        policy: str. The dtype policy.
        jit_compile: `"auto"`, True or False.
        distribution: `Distribution`. The data-parallel set-up.
        resumed_from: int. Epochs completed before this session.
        kept_epoch: int or None. The epoch whose weights the model holds
            (see `keep_best_epoch`). Defaults to `None`.
    """
    test = {}
    if data.test is not None:
        test = model.evaluate(data.test, verbose=0, return_dict=True)
    metrics = {
        "test_accuracy": test.get("accuracy"),
        "test_loss": test.get("loss"),
        "val_accuracy": rows[-1].get("val_accuracy") if rows else None,
        "best_val_accuracy": max(
            (r["val_accuracy"] for r in rows if "val_accuracy" in r), default=None
        ),
        "params": model.count_params(),
        **_timings(rows, data, started),
        "resumed_from_epoch": resumed_from,
        "kept_epoch": kept_epoch,
        **_numerics(policy, jit_compile, distribution),
        **_data_metrics(data),
    }
    # Every setting of run.json (each from an option field), beside the
    # results; the data's own record wins where both have a key.
    metrics.update({k: v for k, v in settings.items() if k not in metrics})
    return metrics


def _timings(rows, data, started):
    """Wall and training seconds, throughput and epochs of a run."""
    train_seconds = sum(row.get("train_seconds", 0.0) for row in rows)
    images = len(rows) * (data.sizes["train"] or 0)
    return {
        "wall_seconds": time.perf_counter() - started,
        "train_seconds": train_seconds,
        "images_per_second": images / train_seconds if train_seconds else None,
        "epochs_completed": len(rows),
    }


def _numerics(policy, jit_compile, distribution):
    """Where and how a run computed: precision, XLA, replicas, device."""
    return {
        "precision": policy,
        "jit_compile": resolve_jit_compile(jit_compile),
        "distribute": distribution.kind,
        "replicas": distribution.replicas,
        "processes": distribution.num_processes,
        "backend": keras.backend.backend(),
        "device": detect_hardware().device_name,
    }


def _data_metrics(data):
    """What a run trained and tested on."""
    return {
        "train_images": data.sizes["train"],
        "test_images": data.sizes.get("test"),
        "image_shape": list(data.image_shape),
        "classes": data.classes,
        "class_names": list(data.class_names),
        "preprocessing": preprocessing_json(data.preprocessing),
        # None for a TFDS split nothing asked to count.
        "class_counts": (
            None
            if data.class_counts is None
            else dict(zip(data.class_names, data.class_counts))
        ),
        "sampler": data.sampler,
        "augmentation": data.augmentation.to_dict(),
    }


def write_artifacts(run_dir, model, rows, metrics, export, phase_switch=None):
    """Writes `curves.png`, `metrics.json` and, with `export`, `model.keras`
    and `saved_model/`.

    Args:
        run_dir: str. The run directory.
        model: `keras.Model`. The trained model.
        rows: list of dict. The history.
        metrics: dict. From `run_metrics`.
        export: bool. Write the model files.
        phase_switch: int or None. The last epoch of fine-tuning's first
            phase, marked on `curves.png`. Defaults to `None`.
    """
    if rows:
        plot_history(
            rows,
            os.path.join(run_dir, "curves.png"),
            title=f"{metrics['model']} on {metrics['dataset']}",
            phase_switch=phase_switch,
            best_epoch=metrics.get("kept_epoch"),
            test_accuracy=metrics.get("test_accuracy"),
        )
    if export:
        save_keras(model, os.path.join(run_dir, "model.keras"))
        export_model(
            model,
            os.path.join(run_dir, "saved_model"),
            preprocessing=metrics["preprocessing"],
            class_names=metrics["class_names"],
            metrics=metrics,
            overwrite=True,
        )
    write_json(os.path.join(run_dir, "metrics.json"), metrics)


def diverged_message(stopped_at, backup):
    """Why training stopped on a non-finite loss, and what was kept.

    Args:
        stopped_at: dict. `epoch`, `batch` and `loss` where it stopped.
        backup: `ResumableBackup`. The run's checkpoints.
    """
    good = backup.rows[-1]["epoch"] if backup.rows else 0
    where = (
        f"epoch {stopped_at['epoch']}, batch {stopped_at['batch']} "
        f"(loss={stopped_at['loss']})"
    )
    kept = (
        f"The last good checkpoint (epoch {good}) is kept in {backup.backup_dir}."
        if good
        else "No epoch had completed, so there is no checkpoint."
    )
    return (
        f"Training stopped: the loss became non-finite at {where}. {kept} "
        "Lower the learning rate (e.g. --learning-rate), use "
        "--precision float32, or add gradient clipping (clipnorm)."
    )
