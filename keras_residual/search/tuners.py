"""Keras Tuner tuners with per-trial timing, the objective check, and the
chief/worker set-up of a distributed search."""

import os
import time

import keras_tuner

from keras_residual.search.hypermodel import TRIAL_ID
from keras_residual.search.options import TUNERS
from keras_residual.utils.files import link_description
from keras_residual.utils.files import links_inside
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

# keras-tuner's state files are small; a larger one is not its own.
MAX_STATE_BYTES = 64 * 1024 * 1024


def objective_for(objective, classes):
    """Checks `objective` against the metrics a trial logs and returns a
    `keras_tuner.Objective`.

    Args:
        objective: str. A metric name, e.g. `"val_accuracy"`.
        classes: int. Number of classes (top-5 metrics exist above 10).
    """
    logged = ["val_accuracy", "val_loss", "accuracy", "loss"]
    if classes > 10:
        logged += ["val_top5", "top5"]
    check_choice("objective", objective, logged)
    return keras_tuner.Objective(
        objective, "min" if objective.endswith("loss") else "max"
    )


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
                "worker=ID (--worker ID)."
            )
        return
    if chief and worker is not None:
        raise ValueError("Pass either chief=True or worker=ID, not both.")
    host, _, port = (oracle_address or "").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            "A distributed search needs `oracle_address` as HOST:PORT "
            f"(--oracle-address); received {oracle_address!r}."
        )
    if worker is not None and (not worker or worker == "chief"):
        raise ValueError(
            f"`worker` must be a non-empty ID other than 'chief'; received {worker!r}."
        )
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if chief else f"tuner-{worker}"
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = port


def is_worker():
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID")
    return (
        bool(tuner_id)
        and tuner_id != "chief"
        and bool(os.environ.get("KERASTUNER_ORACLE_IP"))
    )


def make_tuner(
    kind,
    hypermodel,
    directory,
    objective="val_accuracy",
    max_trials=10,
    seed=0,
    overwrite=False,
    project_name="search",
):
    """A keras_tuner tuner of `kind` (`"random"`, `"hyperband"` or
    `"bayesian"`) over `hypermodel`, stopping after `max_trials` trials
    (rejected ones included) and resuming from `directory` unless
    `overwrite`.

    Args:
        kind: str. `"random"`, `"hyperband"` or `"bayesian"`.
        hypermodel: `ResidualHyperModel`. What to search.
        directory: str. Where the tuner keeps its state.
        objective: str. A logged metric. Defaults to `"val_accuracy"`.
        max_trials: int. Trials, rejected ones included. Defaults to `10`.
        seed: int. Defaults to `0`.
        overwrite: bool. Discard a previous search. Defaults to `False`.
        project_name: str. Defaults to `"search"`.
    """
    check_choice("tuner", kind, TUNERS)
    check_int("max_trials", max_trials, minimum=1)
    if not overwrite:  # keras-tuner reloads, and later writes, what it finds
        check_saved_trials(os.path.join(directory, project_name))
    elif os.path.isdir(directory):  # its rmtree stops at a link; the
        for link in links_inside(directory):  # link goes, not its target
            os.unlink(link)
    common = dict(
        objective=objective_for(objective, hypermodel.classes),
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        max_consecutive_failed_trials=max_trials,
    )
    with hypermodel.declaring_only():
        if kind == "random":
            tuner = RandomSearch(hypermodel, max_trials=max_trials, **common)
        elif kind == "bayesian":
            tuner = BayesianOptimization(
                hypermodel,
                max_trials=max_trials,
                num_initial_points=min(3, max_trials),
                **common,
            )
        else:
            tuner = Hyperband(
                hypermodel,
                max_epochs=hypermodel.epochs,
                factor=3,
                hyperband_iterations=max_trials,
                **common,
            )
            tuner.oracle.max_trials = max_trials
    return tuner


def check_saved_trials(project_dir):
    """Refuses a saved search whose trial ids are not plain names, or that
    holds a symbolic link, before keras-tuner reloads it: it writes each
    trial to `trial_{id}/`, so an id such as `0/../../x`, or a `trial_3`
    linked elsewhere, would write outside the search folder.

    Args:
        project_dir: str. The tuner's project folder.

    Raises:
        ValueError: naming the file and the id.
    """
    if not os.path.isdir(project_dir):
        return
    links = links_inside(os.path.dirname(project_dir))
    if links:
        raise ValueError(
            f"The saved search holds {links[0]!r}, {link_description(links[0])}; "
            "resuming would write through it, outside the search folder. "
            "Refusing to resume; remove the link (copy the folder with "
            "`cp -r`, not `cp -l`), or pass overwrite=True (`--overwrite`) to "
            "start a new search there."
        )
    found = []
    for name in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, name, "trial.json")
        if name.startswith("trial_") and os.path.lexists(path):
            state = _read_state(path)
            trial_id = state.get("trial_id") if isinstance(state, dict) else None
            if trial_id != name[len("trial_") :]:  # the id keras-tuner writes to
                trial_id = f"{trial_id!r} (in the folder {name!r})"
            found.append((path, trial_id))
    oracle = os.path.join(project_dir, "oracle.json")
    if os.path.lexists(oracle):
        state = _read_state(oracle)
        state = state if isinstance(state, dict) else {}
        ongoing = state.get("ongoing_trials") or {}
        for key in ("start_order", "end_order", "retry_queue"):
            found += [(oracle, trial_id) for trial_id in state.get(key) or []]
        found += [(oracle, trial_id) for trial_id in dict(ongoing).values()]
        found += [(oracle, trial_id) for trial_id in state.get("id_to_hash") or {}]
    for path, trial_id in found:
        if not isinstance(trial_id, str) or not TRIAL_ID.match(trial_id):
            raise ValueError(
                f"The saved search {path!r} names the trial id {trial_id!r}; "
                "trial ids are 1-64 letters, digits, '_' or '-' (each names a "
                "folder). Refusing to resume it; pass overwrite=True "
                "(`--overwrite`) to start a new search there."
            )


def _read_state(path):
    try:
        return read_json_file(path, "Search state file", MAX_STATE_BYTES)
    except ValueError as error:
        raise ValueError(
            f"{error} Pass overwrite=True (`--overwrite`) to start a new search."
        ) from None
