"""`search()`: an architecture search from a dataset to a results folder
(and `keras-residual tune`)."""

import os
import time

import keras

from keras_residual.data.loader import load_data
from keras_residual.search.hypermodel import ResidualHyperModel
from keras_residual.search.report import report
from keras_residual.search.space import SearchSpace
from keras_residual.search.tuners import is_worker
from keras_residual.search.tuners import make_tuner
from keras_residual.training.precision import set_precision
from keras_residual.training.presets import get_recipe
from keras_residual.utils.dtype_policy import global_dtype_policy


def search(
    dataset="digits",
    out="runs/search",
    *,
    tuner="random",
    max_trials=10,
    epochs=10,
    space=None,
    max_params=None,
    max_flops=None,
    objective="val_accuracy",
    recipe="fast",
    batch_size=None,
    seed=0,
    precision="auto",
    jit_compile="auto",
    data_dir=None,
    download=False,
    image_size=None,
    overwrite=False,
    export=True,
    verbose=1,
):
    """Runs an architecture search and writes its results into `out`.

    Args:
        dataset: str, tuple or dict. See `load_data`. Defaults to `"digits"`.
        out: str. Output directory; the tuner state lives in `out/tuner`, so
            rerunning resumes. Defaults to `"runs/search"`.
        tuner: str. `"random"`, `"hyperband"` or `"bayesian"`. Defaults to
            `"random"`.
        max_trials: int. Trials, rejected ones included. Defaults to `10`.
        epochs: int. Epochs per trial (Hyperband's maximum). Defaults to `10`.
        space: `SearchSpace`, dict, path or None. Defaults to the full space.
        max_params: int or None. Parameter budget per model.
        max_flops: int or None. FLOP budget per model (2 x MACs per image).
        objective: str. A logged metric. Defaults to `"val_accuracy"`.
        recipe: str or `Recipe`. Defaults to `"fast"`.
        batch_size: int or None. Defaults to the recipe's.
        seed: int. Defaults to `0`.
        precision: str. See `set_precision`. Defaults to `"auto"`.
        jit_compile: `"auto"`, True or False. Defaults to `"auto"`.
        data_dir, download, image_size: see `load_data`.
        overwrite: bool. Discard a previous search in `out`. Defaults to
            `False` (resume).
        export: bool. Export the best model. Defaults to `True`.
        verbose: int. Keras verbosity for each trial. Defaults to `1`.

    Returns:
        dict. The summary also written to `out/summary.json`.
    """
    started = time.perf_counter()
    if isinstance(space, (str, os.PathLike)):
        space = SearchSpace.from_file(os.fspath(space))
    recipe = get_recipe(recipe)
    batch_size = batch_size or recipe.batch_size
    keras.utils.set_random_seed(seed)
    # The caller's global dtype policy comes back when the search ends.
    with global_dtype_policy():
        policy = set_precision(precision)
        data = load_data(
            dataset,
            batch_size=batch_size,
            image_size=image_size,
            data_dir=data_dir,
            download=download,
            seed=seed,
        )
        hypermodel = ResidualHyperModel(
            space,
            input_shape=data.image_shape,
            classes=data.classes,
            steps_per_epoch=data.steps_per_epoch or 100,
            epochs=epochs,
            recipe=recipe,
            max_params=max_params,
            max_flops=max_flops,
            jit_compile=jit_compile,
        )
        out = os.path.abspath(out)
        hypermodel.backup_root = os.path.join(out, "trial_backups")
        search_tuner = make_tuner(
            tuner,
            hypermodel,
            os.path.join(out, "tuner"),
            objective,
            max_trials,
            seed,
            overwrite,
        )
        search_tuner.search(
            data.train, validation_data=data.validation, verbose=verbose
        )
        if is_worker():
            ran = sorted(t for t in hypermodel.timings if t != "outside")
            print(
                f"worker {os.environ['KERASTUNER_TUNER_ID']} ran trials: "
                f"{', '.join(ran) or 'none'}",
                flush=True,
            )
            return {"worker": os.environ["KERASTUNER_TUNER_ID"], "trials_run": ran}
        return report(
            search_tuner, hypermodel, data, out, objective, started, policy, export
        )
