"""Keras Tuner search over block family, depth and width.

`ResidualHyperModel.build(hp)` samples a `SearchSpace`, turns it into a
`ModelSpec` through the registry, rejects models over the parameter or
FLOP budget before any training, and compiles with the training recipe.
`search()` runs a Random, Hyperband or Bayesian tuner on it and writes the
results table, a JSON summary, the best spec and the best model.
"""

import dataclasses
import os
import shutil
import time
import warnings

import keras
import keras_tuner

from keras_residual.atomic import write_json
from keras_residual.atomic import write_text
from keras_residual.callbacks import NonFiniteLossGuard
from keras_residual.callbacks import ResumableBackup
from keras_residual.datasets import load_data
from keras_residual.export import export as export_model
from keras_residual.export import save_keras
from keras_residual.flops import count_flops
from keras_residual.precision import set_precision
from keras_residual.recipe import get_recipe
from keras_residual.search_space import SearchSpace
from keras_residual.search_space import family_spec
from keras_residual.validation import check_choice
from keras_residual.validation import check_int
from keras_residual.zoo import build

TUNERS = ("random", "hyperband", "bayesian")
REJECTED = "rejected:"


class ResidualHyperModel(keras_tuner.HyperModel):
    """Samples an architecture and a recipe, builds and compiles it.

    Args:
        space: `SearchSpace`, dict or None. Defaults to `SearchSpace()`.
        input_shape: tuple. Model input shape. Defaults to `(32, 32, 1)`.
        classes: int. Classifier size. Defaults to `10`.
        steps_per_epoch: int. For the learning-rate schedule. Defaults to
            `20`.
        epochs: int. Training epochs per trial (Hyperband's maximum).
            Defaults to `10`.
        recipe: str or `Recipe`. The recipe each trial trains with; its
            learning rate, weight decay and label smoothing are searched.
            Defaults to `"fast"`.
        max_params: int or None. Reject larger models. Defaults to `None`.
        max_flops: int or None. Reject models with more FLOPs (2 x
            multiply-adds per image). Defaults to `None`.
        jit_compile: `"auto"`, True or False. Defaults to `"auto"`.
    """

    def __init__(self, space=None, input_shape=(32, 32, 1), classes=10,
                 steps_per_epoch=20, epochs=10, recipe="fast", max_params=None,
                 max_flops=None, jit_compile="auto", name="residual_search"):
        super().__init__(name=name, tunable=True)
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        self.input_shape = tuple(input_shape)
        self.classes = check_int("classes", classes, minimum=2)
        self.steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch,
                                         minimum=1)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.recipe = get_recipe(recipe)
        self.max_params = None if max_params is None else check_int(
            "max_params", max_params, minimum=1)
        self.max_flops = None if max_flops is None else check_int(
            "max_flops", max_flops, minimum=1)
        self.jit_compile = jit_compile
        self.timings = {}
        self.current_trial = None
        self.backup_root = None
        self._check_budget_is_reachable()

    def spec_for(self, values):
        """The `ModelSpec` for sampled values (see `SearchSpace.sample`)."""
        return family_spec(**values)

    def build_model(self, values, name="trial"):
        """Builds (without compiling) the model for sampled values."""
        return build(self.spec_for(values), input_shape=self.input_shape,
                     classes=self.classes, name=name)

    def budget_violation(self, model):
        """A reason string when `model` is over budget, else None."""
        params = model.count_params()
        if self.max_params is not None and params > self.max_params:
            return f"{params:,} parameters > max_params {self.max_params:,}"
        if self.max_flops is not None:
            flops = count_flops(model)
            if flops > self.max_flops:
                return f"{flops:,} FLOPs > max_flops {self.max_flops:,}"
        return None

    def build(self, hp):
        started = time.perf_counter()
        values = self.space.sample(hp)
        keras.backend.clear_session()
        model = self.build_model(values)
        violation = self.budget_violation(model)
        if violation is not None:
            raise keras_tuner.errors.FailedTrialError(
                f"{REJECTED} over budget before training ({violation}).")
        recipe = self.recipe_for(values)
        model.compile(**recipe.compile_kwargs(
            model, self.steps_per_epoch, self.epochs, jit_compile=self.jit_compile))
        self._timing()["build_seconds"] = time.perf_counter() - started
        return model

    def recipe_for(self, values):
        """The recipe with the sampled learning rate, weight decay and label
        smoothing."""
        return self.recipe.replace(
            epochs=self.epochs, learning_rate=values["learning_rate"],
            weight_decay=values["weight_decay"],
            label_smoothing=values["label_smoothing"])

    def fit(self, hp, model, *args, **kwargs):
        """Trains with the tuner's callbacks plus a non-finite-loss guard
        and, when `backup_root` is set, a per-trial `ResumableBackup`: a
        trial cut short by a kill resumes from its last completed epoch
        when the search is rerun (keras-tuner alone restarts it from
        scratch, keras-team/keras-tuner#439)."""
        kwargs.setdefault("epochs", self.epochs)
        callbacks = [*kwargs.get("callbacks", []), NonFiniteLossGuard()]
        backup = None
        if self.backup_root and self.current_trial is not None:
            backup = os.path.join(self.backup_root, f"trial_{self.current_trial}")
            callbacks.append(ResumableBackup(backup))
        kwargs["callbacks"] = callbacks
        started = time.perf_counter()
        history = model.fit(*args, **kwargs)
        self._timing()["fit_seconds"] = time.perf_counter() - started
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        return history

    def _timing(self):
        return self.timings.setdefault(self.current_trial or "outside", {})

    def _check_budget_is_reachable(self):
        if self.max_params is None and self.max_flops is None:
            return
        reasons = {}
        for family, corner in self.space.corners().items():
            values = dict(corner, depths=(corner["depth"],) * corner["num_stages"])
            violation = self.budget_violation(self.build_model(values))
            if violation is None:
                return
            reasons[family] = violation
        keras.backend.clear_session()
        details = "; ".join(f"{f}: {r}" for f, r in reasons.items())
        raise ValueError(
            "No model in the search space meets the budget; even the smallest "
            f"model of each family is over it ({details}). Raise max_params/"
            "max_flops or narrow the space to smaller models.")


def objective_for(objective, classes):
    """Checks `objective` against the metrics a trial logs and returns a
    `keras_tuner.Objective`."""
    logged = ["val_accuracy", "val_loss", "accuracy", "loss"]
    if classes > 10:
        logged += ["val_top5", "top5"]
    check_choice("objective", objective, logged)
    return keras_tuner.Objective(objective,
                                 "min" if objective.endswith("loss") else "max")


class _TrialClock:
    """Times each trial end to end, next to the hypermodel's build and fit
    times, so per-trial overhead can be reported."""

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.hypermodel.current_trial = trial.trial_id
        self.hypermodel.timings[trial.trial_id] = {"started": time.perf_counter()}

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        timing = self.hypermodel.timings.get(trial.trial_id, {})
        if "started" in timing:
            timing["trial_seconds"] = time.perf_counter() - timing.pop("started")
        self.hypermodel.current_trial = None


class RandomSearch(_TrialClock, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` with trial timing."""


class BayesianOptimization(_TrialClock, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` with trial timing."""


class Hyperband(_TrialClock, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` with trial timing."""


def configure_distributed_search(chief=False, worker=None, oracle_address=None):
    """Sets keras-tuner's chief/worker environment variables
    (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`).

    Args:
        chief: bool. This process serves the oracle. Defaults to `False`.
        worker: str or None. This process runs trials as worker `ID`.
        oracle_address: str or None. The chief's `host:port`; required with
            `chief` or `worker`.
    """
    if not chief and worker is None:
        if oracle_address:
            raise ValueError(
                "`oracle_address` needs a role: pass chief=True (--chief) or "
                "worker=ID (--worker ID).")
        return
    if chief and worker is not None:
        raise ValueError("Pass either chief=True or worker=ID, not both.")
    host, _, port = (oracle_address or "").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            "A distributed search needs `oracle_address` as HOST:PORT "
            f"(--oracle-address); received {oracle_address!r}.")
    if worker is not None and (not worker or worker == "chief"):
        raise ValueError(
            f"`worker` must be a non-empty ID other than 'chief'; received "
            f"{worker!r}.")
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if chief else f"tuner-{worker}"
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = port


def _is_worker():
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID")
    return bool(tuner_id) and tuner_id != "chief" and bool(
        os.environ.get("KERASTUNER_ORACLE_IP"))


def make_tuner(kind, hypermodel, directory, objective="val_accuracy",
               max_trials=10, seed=0, overwrite=False, project_name="search"):
    """A keras_tuner tuner of `kind` (`"random"`, `"hyperband"` or
    `"bayesian"`) over `hypermodel`, stopping after `max_trials` trials
    (rejected ones included) and resuming from `directory` unless
    `overwrite`."""
    check_choice("tuner", kind, TUNERS)
    check_int("max_trials", max_trials, minimum=1)
    common = dict(objective=objective_for(objective, hypermodel.classes),
                  seed=seed, directory=directory, project_name=project_name,
                  overwrite=overwrite, max_consecutive_failed_trials=max_trials)
    if kind == "random":
        tuner = RandomSearch(hypermodel, max_trials=max_trials, **common)
    elif kind == "bayesian":
        tuner = BayesianOptimization(
            hypermodel, max_trials=max_trials,
            num_initial_points=min(3, max_trials), **common)
    else:
        tuner = Hyperband(
            hypermodel, max_epochs=hypermodel.epochs, factor=3,
            hyperband_iterations=max_trials, **common)
        tuner.oracle.max_trials = max_trials
    return tuner


@dataclasses.dataclass
class TrialRow:
    """One line of the results table."""

    trial_id: str
    status: str
    family: str
    depths: tuple
    base_width: int
    params: int
    flops: int
    score: float
    epochs: int
    note: str = ""


def trial_rows(tuner, hypermodel):
    """The results table: every trial, with its architecture, size and
    score; rejected trials marked as such."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        values = hypermodel.space.sample(trial.hyperparameters.copy())
        model = hypermodel.build_model(values, name="probe")
        status = trial.status
        note = ""
        if status == "FAILED" and trial.message and REJECTED in trial.message:
            status = "REJECTED"
            note = trial.message.split(REJECTED, 1)[1].strip().splitlines()[0]
        elif trial.message and status not in ("COMPLETED",):
            note = trial.message.strip().splitlines()[-1][:120]
        score = trial.score
        rows.append(TrialRow(
            trial_id, status, values["family"], values["depths"],
            values["base_width"], model.count_params(), count_flops(model),
            None if score is None else float(score),
            int(trial.hyperparameters.values.get("tuner/epochs",
                                                 hypermodel.epochs)), note))
    keras.backend.clear_session()
    return rows


def format_table(rows, objective):
    """Renders the results table as text."""
    header = (f"{'trial':<6} {'status':<9} {'family':<10} {'depths':<12} "
              f"{'width':>5} {'params':>10} {'MFLOPs':>8} {'epochs':>6} "
              f"{objective:>12}  note")
    lines = [header, "-" * len(header)]
    for row in rows:
        score = "" if row.score is None else f"{row.score:.4f}"
        lines.append(
            f"{row.trial_id:<6} {row.status:<9} {row.family:<10} "
            f"{','.join(map(str, row.depths)):<12} {row.base_width:>5} "
            f"{row.params:>10,} {row.flops / 1e6:>8.1f} {row.epochs:>6} "
            f"{score:>12}  {row.note}")
    return "\n".join(lines)


def search(dataset="digits", out="runs/search", *, tuner="random",
           max_trials=10, epochs=10, space=None, max_params=None,
           max_flops=None, objective="val_accuracy", recipe="fast",
           batch_size=None, seed=0, precision="auto", jit_compile="auto",
           data_dir=None, download=False, image_size=None, overwrite=False,
           export=True, verbose=1):
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
    policy = set_precision(precision)
    data = load_data(dataset, batch_size=batch_size, image_size=image_size,
                     data_dir=data_dir, download=download, seed=seed)
    hypermodel = ResidualHyperModel(
        space, input_shape=data.image_shape, classes=data.num_classes,
        steps_per_epoch=data.steps_per_epoch or 100, epochs=epochs,
        recipe=recipe, max_params=max_params, max_flops=max_flops,
        jit_compile=jit_compile)
    out = os.path.abspath(out)
    hypermodel.backup_root = os.path.join(out, "trial_backups")
    search_tuner = make_tuner(tuner, hypermodel, os.path.join(out, "tuner"),
                              objective, max_trials, seed, overwrite)
    search_tuner.search(data.train, validation_data=data.validation,
                        verbose=verbose)
    if _is_worker():
        ran = sorted(t for t in hypermodel.timings if t != "outside")
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']} ran trials: "
              f"{', '.join(ran) or 'none'}", flush=True)
        return {"worker": os.environ["KERASTUNER_TUNER_ID"], "trials_run": ran}
    return report(search_tuner, hypermodel, data, out, objective, started,
                  policy, export)


def report(search_tuner, hypermodel, data, out, objective, started, policy,
           export):
    """Prints the table and writes `results.txt`, `summary.json`,
    `best_spec.json` and the best model (`best_model.keras`,
    `best_saved_model/`)."""
    rows = trial_rows(search_tuner, hypermodel)
    table = format_table(rows, objective)
    print(table)
    write_text(os.path.join(out, "results.txt"), table + "\n")
    completed = [r for r in rows if r.status == "COMPLETED"]
    summary = {
        "objective": objective, "tuner": type(search_tuner).__name__,
        "trials": len(rows), "completed": len(completed),
        "rejected": sum(r.status == "REJECTED" for r in rows),
        "failed": sum(r.status not in ("COMPLETED", "REJECTED") for r in rows),
        "rows": [dataclasses.asdict(r) for r in rows],
        "wall_seconds": time.perf_counter() - started, "precision": policy,
        "timings": {trial_id: timing for trial_id, timing
                    in hypermodel.timings.items() if "trial_seconds" in timing},
    }
    if completed:
        best_hp = search_tuner.get_best_hyperparameters(1)[0]
        values = hypermodel.space.sample(best_hp.copy())
        spec = hypermodel.spec_for(values)
        write_text(os.path.join(out, "best_spec.json"), spec.to_json(indent=2) + "\n")
        with warnings.catch_warnings():  # the restored optimizer is unused
            warnings.simplefilter("ignore", UserWarning)
            best = search_tuner.get_best_models(1)[0]
        test = best.evaluate(data.test, verbose=0, return_dict=True) \
            if data.test is not None else {}
        summary["best"] = {
            "hyperparameters": values, "score": search_tuner.oracle.get_best_trials(
                1)[0].score, "test_accuracy": test.get("accuracy"),
            "params": best.count_params(), "flops": count_flops(best)}
        if export:
            save_keras(best, os.path.join(out, "best_model.keras"))
            export_model(best, os.path.join(out, "best_saved_model"),
                         preprocessing=data.preprocessing,
                         class_names=data.class_names, metrics=summary["best"],
                         overwrite=True)
        print(f"best: {values['family']} depths {values['depths']} width "
              f"{values['base_width']}: {objective} "
              f"{summary['best']['score']:.4f}, test accuracy "
              f"{summary['best']['test_accuracy']}")
    write_json(os.path.join(out, "summary.json"), summary)
    return summary
