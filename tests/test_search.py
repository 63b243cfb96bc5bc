"""The search space, FLOP counting, budgets, tuners and the `tune` command.
Keras Tuner runs for real; the resume and chief/worker tests use real
processes on 127.0.0.1."""

import json
import os
import subprocess
import sys
import time

import keras
import keras_tuner
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.analysis.flops import count_macs
from keras_residual.blocks import get_search_family
from keras_residual.blocks import list_search_families
from keras_residual.search import ResidualHyperModel
from keras_residual.search import make_tuner
from keras_residual.search import search
from keras_residual.search.space import SearchSpace
from keras_residual.search.space import family_spec
from tests.conftest import free_port
from tests.conftest import kill_when
from tests.conftest import small_digits
from tests.conftest import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {"depth": [1], "base_width": [8], "growth_rate": [8]}


def _sample(space, **fixed):
    hp = keras_tuner.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(name, value)
    return hp, space.sample(hp)


def test_family_parameters_are_sampled_only_for_their_family():
    space = SearchSpace()
    hp, values = _sample(space, family="dense")
    assert hp.is_active("growth_rate") and hp.is_active("compression")
    assert not hp.is_active("gate_bias") and "gate_bias" not in values
    hp, values = _sample(space, family="highway")
    assert hp.is_active("gate_bias") and -3.0 <= values["gate_bias"] <= -1.0
    assert not hp.is_active("growth_rate") and "growth_rate" not in values
    hp, values = _sample(space, family="residual")
    assert not any(hp.is_active(n) for n in ("gate_bias", "growth_rate"))


def test_stage_count_is_searchable_with_conditional_depths():
    space = SearchSpace({"num_stages": [2, 3, 4]})
    hp, values = _sample(space, num_stages=2)
    assert len(values["depths"]) == 2 and not hp.is_active("depth_3")
    hp, values = _sample(space, num_stages=4)
    assert len(values["depths"]) == 4 and hp.is_active("depth_4")


@pytest.mark.parametrize("family", list(list_search_families()))
def test_every_family_builds_trains_a_step_and_reloads_in_safe_mode(family, tmp_path):
    spec = family_spec(family, (1, 1), 8, growth_rate=8, gate_bias=-1.5)
    model = kr.build(spec, input_shape=(32, 32, 1), classes=10)
    assert {b.block for b in spec.stages} == {
        "dense" if family == "dense" else get_search_family(family).block
    }
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 1)).astype("float32")
    model.fit(x, np.arange(4), verbose=0)
    path = str(tmp_path / f"{family}.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_a_family_registered_outside_the_package_joins_the_search():
    """A new family registers its search factory next to its blocks; the
    search code does not change, and its own hyperparameter is sampled only
    when it is chosen."""

    @kr.register_search_family(
        "wide_basic",
        block="basic",
        parameters={"widen": [2, 3]},
        description="basic blocks, widened",
    )
    def wide_basic(depths, base_width, widen=1):
        return {
            "stem": {"kind": "cifar", "filters": base_width},
            "stages": [
                {
                    "depth": d,
                    "filters": base_width * widen * 2**i,
                    "block": "basic",
                    "stride": 1 if i == 0 else 2,
                }
                for i, d in enumerate(depths)
            ],
        }

    try:
        space = SearchSpace({"family": ["residual", "wide_basic"], **SMALL})
        hp, values = _sample(space, family="wide_basic")
        assert hp.is_active("widen") and values["widen"] in (2, 3)
        hp, values = _sample(space, family="residual")
        assert not hp.is_active("widen") and "widen" not in values
        spec = family_spec("wide_basic", (1, 1), 8, widen=3, gate_bias=-1.0)
        assert spec.widths == (24, 48)
        assert "wide_basic" in kr.list_search_families()
        with pytest.raises(ValueError, match=r"'wide_basi'.*'wide_basic'"):
            SearchSpace({"family": ["wide_basi"]})
    finally:
        kr.blocks.search_family.SEARCH_FAMILIES.unregister("wide_basic")
    assert "widen" not in SearchSpace().entries


def test_a_family_whose_smallest_model_is_invalid_is_refused_up_front():
    with pytest.raises(ValueError, match=r"smallest 'dense'.*growth_rate"):
        SearchSpace({"family": ["dense"], "growth_rate": [0, 8]})


def test_space_files_narrow_or_fix_entries(tmp_path):
    json_path = tmp_path / "space.json"
    json_path.write_text(
        json.dumps(
            {
                "family": ["dense", "highway"],
                "depth": {"min": 2, "max": 2},
                "learning_rate": 0.05,
            }
        )
    )
    yaml_path = tmp_path / "space.yaml"
    yaml_path.write_text("family: [plain]\nbase_width: [16]\n")
    for path in (json_path, yaml_path):
        space = SearchSpace.from_file(str(path))
        for seed in range(5):
            hp = keras_tuner.HyperParameters()
            hp.Fixed("seed_probe", seed)
            values = space.sample(hp)
            assert values["family"] in space.families
    space = SearchSpace.from_file(str(json_path))
    assert space.families == ("dense", "highway")
    _, values = _sample(space)
    assert values["depths"] == (2, 2, 2) and values["learning_rate"] == 0.05
    assert SearchSpace.from_file(str(yaml_path)).families == ("plain",)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"family": []}, r"'family' is an empty list"),
        ({"depth": {"min": 4, "max": 2}}, r"contradictory: min 4 > max 2"),
        ({"family": ["densee"]}, r"'densee'.*'dense'"),
        ({"dpeth": [1]}, r"'dpeth'.*'depth'"),
        ({"learning_rate": {"min": 0.0, "max": 0.1, "sampling": "log"}}, r"min > 0"),
        ({"depth": {"min": 0, "max": 2}}, r"'depth' must be >= 1"),
    ],
)
def test_bad_search_spaces_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(overrides)


def test_macs_are_counted_from_the_graph():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(10, name="dense")(x)
    assert count_macs(keras.Model(inputs, outputs)) == 8 * 8 * 3 * 3 * 3 * 16 + 16 * 10
    # He et al. 2015, Table 1 (multiply-adds at 224x224): ResNet-18 1.8e9,
    # ResNet-50 3.8e9 (keras.applications' v1 strides the first 1x1 conv;
    # the ~4.1e9 often quoted is torchvision's v1.5).
    assert count_macs(kr.ResNet18()) == pytest.approx(1.8e9, rel=0.03)
    assert count_macs(kr.ResNet50()) == pytest.approx(3.8e9, rel=0.03)


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_a_budget_no_model_meets_is_refused_up_front():
    with pytest.raises(ValueError, match=r"No model in the search space meets"):
        ResidualHyperModel(SearchSpace(), max_params=1_000)
    with pytest.raises(ValueError, match=r"No model in the search space meets"):
        ResidualHyperModel(SearchSpace(), max_flops=10_000)


def test_unknown_tuner_and_unlogged_objective_are_refused(tmp_path):
    hypermodel = ResidualHyperModel(SearchSpace(SMALL))
    with pytest.raises(ValueError, match=r"`tuner`.*'hyperbnd'.*'hyperband'"):
        make_tuner("hyperbnd", hypermodel, str(tmp_path))
    with pytest.raises(ValueError, match=r"`objective`.*'val_acc'.*'val_accuracy'"):
        make_tuner("random", hypermodel, str(tmp_path), objective="val_acc")


@pytest.mark.parametrize("where", ["trial.json", "oracle.json"])
def test_a_saved_search_with_a_path_trial_id_is_refused_before_reloading(
    tmp_path, where
):
    """keras-tuner writes every reloaded trial to `trial_{id}/trial.json`: an
    id of `0/../../victim` once overwrote a file outside the search folder."""
    hypermodel = ResidualHyperModel(SearchSpace(SMALL))
    tuner = make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=1)
    tuner.oracle.save()  # a real oracle.json to tamper with
    project = tmp_path / "tuner" / "search"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "trial.json").write_text("the user's file")
    evil = "0/../../../victim"
    if where == "trial.json":
        trial = keras_tuner.engine.trial.Trial(tuner.oracle.get_space(), evil)
        (project / "trial_0").mkdir()
        (project / "trial_0" / "trial.json").write_text(json.dumps(trial.get_state()))
    else:
        state = json.loads((project / "oracle.json").read_text())
        state["start_order"] = [evil]
        (project / "oracle.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"names the trial id .*0/\.\./\.\./"):
        make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=1)
    assert (victim / "trial.json").read_text() == "the user's file"
    # Starting over is allowed.
    make_tuner(
        "random", hypermodel, str(tmp_path / "tuner"), max_trials=1, overwrite=True
    )


@pytest.mark.xdist_group("search")
def test_over_budget_trials_are_rejected_and_reported_without_crashing(tmp_path):
    space = {"family": ["residual"], "depth": [1], "base_width": [8, 32]}
    summary = search(
        small_digits(train=128, validation=64),
        str(tmp_path / "budget"),
        tuner="random",
        max_trials=4,
        epochs=1,
        space=space,
        max_params=20_000,
        seed=3,
        verbose=0,
        export=False,
    )
    statuses = {row["status"] for row in summary["rows"]}
    widths = {row["status"]: row["base_width"] for row in summary["rows"]}
    assert statuses == {"COMPLETED", "REJECTED"}
    assert widths["REJECTED"] == 32 and widths["COMPLETED"] == 8
    rejected = [r for r in summary["rows"] if r["status"] == "REJECTED"]
    assert all("max_params 20,000" in r["note"] for r in rejected)
    assert all(r["score"] is None for r in rejected)
    table = open(tmp_path / "budget" / "results.txt").read()
    assert "REJECTED" in table and "COMPLETED" in table


@pytest.mark.xdist_group("search")
def test_a_search_whose_every_trial_is_rejected_is_refused_in_one_line(tmp_path):
    """keras-tuner stops after max_trials consecutive failures with a
    RuntimeError that carries a traceback; the search says what happened.
    One trial of two widths, one over budget: the first seed that samples
    it ends the test."""
    space = {"family": ["residual"], "depth": [1], "base_width": [8, 32]}
    refused = []
    for seed in range(6):
        try:
            search(
                small_digits(train=64, validation=32),
                str(tmp_path / f"s{seed}"),
                max_trials=1,
                epochs=1,
                space=space,
                max_params=20_000,
                seed=seed,
                verbose=0,
                export=False,
            )
        except ValueError as error:
            refused.append(str(error))
            break
    assert refused, "no seed sampled the over-budget width"
    message = refused[0]
    assert message.startswith("Every one of the 1 trial(s) failed or was rejected")
    assert "max_params 20,000" in message and "Traceback" not in message
    assert "\n" not in message


@pytest.mark.xdist_group("search")
@pytest.mark.parametrize("tuner", ["random", "hyperband", "bayesian"])
def test_tuners_search_and_save_a_rebuildable_best_spec_and_model(
    tuner, tmp_path, capsys
):
    import re

    import tensorflow as tf

    out = tmp_path / tuner
    # Random search trains ViT trials (attention in a trial; a ViT's best
    # spec rebuilds); the others mix the convolutional families.
    families = ["vit"] if tuner == "random" else ["residual", "dense", "highway"]
    space = dict(SMALL, heads=[2], mlp_ratio=[2.0], family=families)
    summary = search(
        small_digits(train=128, validation=64),
        str(out),
        tuner=tuner,
        max_trials=2,
        epochs=2 if tuner == "hyperband" else 1,
        space=space,
        seed=1,
        verbose=0,
    )
    assert summary["trials"] == 2 and summary["completed"] >= 1
    best = next(
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("best:")
    )
    assert re.search(r"test accuracy (\d\.\d{4}|n/a)$", best), best  # rounded
    assert (
        summary["tuner"].lower()
        == {
            "random": "randomsearch",
            "hyperband": "hyperband",
            "bayesian": "bayesianoptimization",
        }[tuner]
    )
    spec = json.load(open(out / "best_spec.json"))
    rebuilt = kr.build(spec, input_shape=(32, 32, 1), classes=10)
    assert rebuilt.count_params() == summary["best"]["params"]
    assert summary["best"]["hyperparameters"]["family"] in space["family"]
    best = keras.saving.load_model(str(out / "best_model.keras"), safe_mode=True)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    served = tf.saved_model.load(str(out / "best_saved_model"))
    outputs = served.signatures["serve_preprocessed"](inputs=tf.constant(x))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), best.predict(x, verbose=0), atol=1e-5
    )
    for timing in summary["timings"].values():
        assert timing["trial_seconds"] >= timing.get("fit_seconds", 0.0)


def _tune(*args):
    return [sys.executable, "-m", "keras_residual.cli", "tune", *args]


def _trial_states(tuner_dir):
    states = {}
    if not os.path.isdir(tuner_dir):
        return states
    for name in os.listdir(tuner_dir):
        path = os.path.join(tuner_dir, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            try:
                with open(path) as handle:
                    states[name] = json.load(handle)
            except ValueError:
                pass
    return states


@pytest.mark.xdist_group("subprocess")
def test_sigkill_during_a_trial_then_rerun_keeps_completed_trials(tmp_path):
    out = str(tmp_path / "resumed")
    tuner_dir = os.path.join(out, "tuner", "search")
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(dict(SMALL, family=["residual"])))
    command = _tune(
        "--out",
        out,
        "--max-trials",
        "3",
        "--epochs",
        "3",
        "--space",
        str(space_file),
        "--verbose",
        "0",
        "--no-export",
    )
    process = subprocess.Popen(
        command,
        env=subprocess_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    backups = os.path.join(out, "trial_backups")

    def one_trial_done_and_one_backed_up():
        states = _trial_states(tuner_dir)
        running = [n for n, s in states.items() if s["status"] == "RUNNING"]
        return (
            any(s["status"] == "COMPLETED" for s in states.values())
            and running
            and os.path.exists(os.path.join(backups, running[0], "state.json"))
        )

    kill_when(process, one_trial_done_and_one_backed_up, poll=0.1)
    before = {
        k: v for k, v in _trial_states(tuner_dir).items() if v["status"] == "COMPLETED"
    }
    assert 1 <= len(before) < 3

    done = subprocess.run(
        command,
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "epoch(s) already completed" in done.stdout  # the cut trial resumed
    after = _trial_states(tuner_dir)
    assert len(after) == 3
    assert all(state["status"] == "COMPLETED" for state in after.values())
    for name, state in before.items():  # kept, not rerun
        assert after[name]["score"] == state["score"]
        assert after[name]["metrics"] == state["metrics"]
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["trials"] == 3 and summary["completed"] == 3


def _wait_for_listener(port, process, timeout=120):
    """Returns once something accepts connections on 127.0.0.1:`port`."""
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()[0][-2000:]
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listened on port {port} in {timeout} s")


@pytest.mark.slow
def test_chief_and_two_workers_share_out_the_trials(tmp_path):
    out = str(tmp_path / "distributed")
    port = free_port()
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(dict(SMALL, family=["residual", "plain"])))
    common = [
        "--out",
        out,
        "--max-trials",
        "4",
        "--epochs",
        "1",
        "--space",
        str(space_file),
        "--verbose",
        "0",
        "--no-export",
        "--oracle-address",
        f"127.0.0.1:{port}",
    ]
    chief = subprocess.Popen(
        _tune(*common, "--chief"),
        env=subprocess_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_listener(port, chief)  # the oracle serves before workers ask
    workers = [
        subprocess.Popen(
            _tune(*common, "--worker", str(i)),
            env=subprocess_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=500)[0] for w in workers]
    chief_output = chief.communicate(timeout=200)[0]
    for process, output in zip(workers + [chief], outputs + [chief_output]):
        assert process.returncode == 0, output[-3000:]
    ran = []
    for output in outputs:
        line = [layer for layer in output.splitlines() if "ran trials:" in layer][-1]
        ran.append(
            set(line.split("ran trials:")[1].replace(",", " ").split()) - {"none"}
        )
    assert ran[0] and ran[1] and not ran[0] & ran[1]
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["trials"] == 4
    assert {r["trial_id"] for r in summary["rows"]} == ran[0] | ran[1]
    assert "best:" in chief_output


def test_constructing_a_tuner_declares_every_hyperparameter_without_a_model(
    tmp_path, monkeypatch
):
    """keras-tuner builds once per conditional scope to find the space; the
    hypermodel samples only then (a model per family took seconds)."""
    hypermodel = ResidualHyperModel(SearchSpace())
    monkeypatch.setattr(
        hypermodel, "build_model", lambda *a, **k: pytest.fail("a model was built")
    )
    tuner = make_tuner("random", hypermodel, str(tmp_path / "t"), max_trials=1)
    names = {hp.name for hp in tuner.oracle.get_space().space}
    assert {"family", "growth_rate", "gate_bias", "cardinality"} <= names, names
    assert not hypermodel.declaring  # trials build real models again
