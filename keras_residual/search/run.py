"""`search()`: an architecture search from a dataset to a results folder
(and `keras-residual search`)."""

import os
import time

import keras

from keras_residual.data.loader import load_data
from keras_residual.data.options import DataOptions
from keras_residual.search.hypermodel import ResidualHyperModel
from keras_residual.search.options import SearchOptions
from keras_residual.search.report import report
from keras_residual.search.space import SearchSpace
from keras_residual.search.tuners import is_worker
from keras_residual.search.tuners import make_tuner
from keras_residual.training.precision import set_precision
from keras_residual.training.recipe_presets import get_recipe
from keras_residual.utils.dtype_policy import global_dtype_policy
from keras_residual.utils.options import gather_options


def search(
    dataset="digits",
    out="runs/search",
    *,
    search_options=None,
    data=None,
    **options,
):
    """Runs an architecture search and writes its results into `out`.

    Args:
        dataset: str, tuple or dict. See `load_data`. Defaults to `"digits"`.
        out: str. Output directory; the tuner state lives in `out/tuner`, so
            rerunning resumes. Defaults to `"runs/search"`.
        search_options: `SearchOptions` or None. Tuner, trials, epochs,
            space, budgets, recipe, precision, ... Defaults to
            `SearchOptions()`.
        data: `DataOptions` or None. How the dataset is read (as in
            `train`). Defaults to `DataOptions()`.
        **options: any field of the two option groups by name, as in
            `search("digits", "runs/s", max_trials=3, epochs=2)`; it
            overrides the group's field.

    Returns:
        dict. The summary also written to `out/summary.json`.
    """
    started = time.perf_counter()
    groups = gather_options(
        "search",
        {
            "search_options": (SearchOptions, search_options),
            "data": (DataOptions, data),
        },
        options,
    )
    settings, data = groups["search_options"], groups["data"]
    space = settings.space
    if isinstance(space, (str, os.PathLike)):
        space = SearchSpace.from_file(os.fspath(space))
    recipe = get_recipe(settings.recipe)
    keras.utils.set_random_seed(settings.seed)
    # The caller's global dtype policy comes back when the search ends.
    with global_dtype_policy():
        policy = set_precision(settings.precision)
        bundle = _load(dataset, data, recipe, settings.seed)
        out = os.path.abspath(out)
        hypermodel = _hypermodel(space, bundle, settings, recipe, out)
        search_tuner = make_tuner(
            settings.tuner,
            hypermodel,
            os.path.join(out, "tuner"),
            settings.objective,
            settings.max_trials,
            settings.seed,
            settings.overwrite,
        )
        _run_trials(search_tuner, bundle, settings, out)
        if is_worker():
            return _worker_summary(hypermodel)
        return report(
            search_tuner,
            hypermodel,
            bundle,
            out,
            settings.objective,
            started,
            policy,
            settings.export,
        )


def _hypermodel(space, bundle, settings, recipe, out):
    """The search's hypermodel for the data, backing trials up in `out`."""
    hypermodel = ResidualHyperModel(
        space,
        input_shape=bundle.image_shape,
        classes=bundle.classes,
        steps_per_epoch=bundle.steps_per_epoch or 100,
        epochs=settings.epochs,
        recipe=recipe,
        max_params=settings.max_params,
        max_flops=settings.max_flops,
        jit_compile=settings.jit_compile,
    )
    hypermodel.backup_root = os.path.join(out, "trial_backups")
    return hypermodel


def _run_trials(search_tuner, bundle, settings, out):
    """Runs the tuner's trials; a search whose every trial failed or was
    rejected is refused in one line (keras-tuner raises a `RuntimeError`
    that carries a traceback)."""
    try:
        search_tuner.search(
            bundle.train, validation_data=bundle.validation, verbose=settings.verbose
        )
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ValueError(
            f"Every one of the {settings.max_trials} trial(s) failed or was "
            f"rejected; the last: {lines[-1].split(': ', 1)[-1]} Loosen "
            "`max_params`/`max_flops`, narrow `space`, or run more trials; "
            f"the trials are in {os.path.join(out, 'tuner')}."
        ) from None


def _load(dataset, data, recipe, seed):
    """The search's `DataBundle`: the data options, with the recipe's
    batch size where none is given and its label mode and augmentation, as
    `train()` has them."""
    options = data.load_kwargs()
    options.update(recipe.data_kwargs(options.pop("augmentation")))
    return load_data(
        dataset,
        batch_size=data.batch_size or recipe.batch_size,
        seed=seed,
        **options,
    )


def _worker_summary(hypermodel):
    """What a distributed-search worker returns: the trials it ran."""
    ran = sorted(t for t in hypermodel.timings if t != "outside")
    print(
        f"worker {os.environ['KERASTUNER_TUNER_ID']} ran trials: "
        f"{', '.join(ran) or 'none'}",
        flush=True,
    )
    return {"worker": os.environ["KERASTUNER_TUNER_ID"], "trials_run": ran}
