"""The results of a search: a table of every trial (architecture, size,
score; rejected trials marked), `summary.json`, the best spec and the best
model."""

import dataclasses
import os
import time
import warnings

import keras

from keras_residual.analysis.flops import count_flops
from keras_residual.search.hypermodel import REJECTED
from keras_residual.serving.export import export as export_model
from keras_residual.utils.atomic import save_keras
from keras_residual.utils.atomic import write_json
from keras_residual.utils.atomic import write_text


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
    score; rejected trials marked as such.

    Args:
        tuner: `keras_tuner.Tuner`. The tuner after (or during) a search.
        hypermodel: `ResidualHyperModel`. Rebuilds each trial's model to count it.
    """
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
        rows.append(
            TrialRow(
                trial_id,
                status,
                values["family"],
                values["depths"],
                values["base_width"],
                model.count_params(),
                count_flops(model),
                None if score is None else float(score),
                int(
                    trial.hyperparameters.values.get("tuner/epochs", hypermodel.epochs)
                ),
                note,
            )
        )
    keras.backend.clear_session()
    return rows


def format_table(rows, objective):
    """Renders the results table as text.

    Args:
        rows: list of `TrialRow`. From `trial_rows`.
        objective: str. The objective's name, for the header.
    """
    header = (
        f"{'trial':<6} {'status':<9} {'family':<10} {'depths':<12} "
        f"{'width':>5} {'params':>10} {'MFLOPs':>8} {'epochs':>6} "
        f"{objective:>12}  note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        score = "" if row.score is None else f"{row.score:.4f}"
        lines.append(
            f"{row.trial_id:<6} {row.status:<9} {row.family:<10} "
            f"{','.join(map(str, row.depths)):<12} {row.base_width:>5} "
            f"{row.params:>10,} {row.flops / 1e6:>8.1f} {row.epochs:>6} "
            f"{score:>12}  {row.note}"
        )
    return "\n".join(lines)


def report(search_tuner, hypermodel, data, out, objective, started, policy, export):
    """Prints the table and writes `results.txt`, `summary.json`,
    `best_spec.json` and the best model (`best_model.keras`,
    `best_saved_model/`).

    Args:
        search_tuner: `keras_tuner.Tuner`. The finished tuner.
        hypermodel: `ResidualHyperModel`. The searched hypermodel.
        data: `DataBundle`. The data (its test split scores the best model).
        out: str. The output directory.
        objective: str. The objective's name.
        started: float. `time.perf_counter()` at the start.
        policy: str. The dtype policy used.
        export: bool. Export the best model.
    """
    rows = trial_rows(search_tuner, hypermodel)
    table = format_table(rows, objective)
    print(table)
    write_text(os.path.join(out, "results.txt"), table + "\n")
    completed = [r for r in rows if r.status == "COMPLETED"]
    summary = {
        "objective": objective,
        "tuner": type(search_tuner).__name__,
        "trials": len(rows),
        "completed": len(completed),
        "rejected": sum(r.status == "REJECTED" for r in rows),
        "failed": sum(r.status not in ("COMPLETED", "REJECTED") for r in rows),
        "rows": [dataclasses.asdict(r) for r in rows],
        "wall_seconds": time.perf_counter() - started,
        "precision": policy,
        "timings": {
            trial_id: timing
            for trial_id, timing in hypermodel.timings.items()
            if "trial_seconds" in timing
        },
    }
    if completed:
        best_hp = search_tuner.get_best_hyperparameters(1)[0]
        values = hypermodel.space.sample(best_hp.copy())
        spec = hypermodel.spec_for(values)
        write_text(os.path.join(out, "best_spec.json"), spec.to_json(indent=2) + "\n")
        with warnings.catch_warnings():  # the restored optimizer is unused
            warnings.simplefilter("ignore", UserWarning)
            best = search_tuner.get_best_models(1)[0]
        test = (
            best.evaluate(data.test, verbose=0, return_dict=True)
            if data.test is not None
            else {}
        )
        summary["best"] = {
            "hyperparameters": values,
            "score": search_tuner.oracle.get_best_trials(1)[0].score,
            "test_accuracy": test.get("accuracy"),
            "params": best.count_params(),
            "flops": count_flops(best),
        }
        if export:
            save_keras(best, os.path.join(out, "best_model.keras"))
            export_model(
                best,
                os.path.join(out, "best_saved_model"),
                preprocessing=data.preprocessing,
                class_names=data.class_names,
                metrics=summary["best"],
                overwrite=True,
            )
        print(
            f"best: {values['family']} depths {values['depths']} width "
            f"{values['base_width']}: {objective} "
            f"{summary['best']['score']:.4f}, test accuracy "
            f"{_rounded(summary['best']['test_accuracy'])}"
        )
    write_json(os.path.join(out, "summary.json"), summary)
    return summary


def _rounded(value):
    """A figure as printed: 4 decimals, or "n/a"."""
    return "n/a" if value is None else f"{value:.4f}"
