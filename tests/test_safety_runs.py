"""Run directories: folders that are not runs, run and state files that are
special or foreign, resumes after corrupt checkpoints, and the staging a
kill leaves. Each test reproduces an attack or a finding that worked before
its fix (the hardening rounds of issues #15 and #40)."""

import json
import os

import pytest

import keras_residual as kr
from keras_residual.training.callbacks import BestModelCheckpoint
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.runs import check_run_dir
from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.atomic import remove_stale_staging
from tests.conftest import TINY
from tests.conftest import small_digits
from tests.safety_helpers import GOOD_STATE
from tests.safety_helpers import deadline
from tests.safety_helpers import overwrite_middle
from tests.safety_helpers import special_file
from tests.safety_helpers import tiny_model


@pytest.mark.slow  # over ~6 s: out of the fast tier
def test_resume_falls_back_to_the_previous_checkpoint_when_the_latest_is_corrupt(
    tmp_path, capsys
):
    common = dict(
        epochs=2,
        batch_size=32,
        precision="float32",
        export=False,
        verbose=0,
        model_overrides=TINY,
    )
    out = str(tmp_path / "run")
    kr.train("ResNet20", small_digits(), out, **common)
    checkpoints = os.path.join(out, "checkpoints")
    state = json.load(open(os.path.join(checkpoints, "state.json")))
    assert state["epoch"] == 2 and state["previous"]["epoch"] == 1
    latest = os.path.join(checkpoints, state["weights"])
    overwrite_middle(latest, b"\x00\x00\x80\x3f" * 2)
    capsys.readouterr()
    again = kr.train("ResNet20", small_digits(), out, resume=True, **common)
    printed = capsys.readouterr().out
    assert "does not match the sha256" in printed
    assert "falling back to the one of epoch 1" in printed
    assert [row["epoch"] for row in again.history] == [1, 2]


def test_resumed_best_checkpoint_keeps_the_better_model(tmp_path):
    model = tiny_model()
    best = tmp_path / "best.keras"
    best.write_bytes(b"the best model of the run before the resume")
    backup = ResumableBackup(str(tmp_path / "backup"))
    backup.rows = [{"epoch": 1, "val_accuracy": 0.9}]
    checkpoint = BestModelCheckpoint(str(best), backup=backup)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(1, {"loss": 1.0, "val_accuracy": 0.5})
    assert best.read_bytes().startswith(b"the best model")  # 0.5 < 0.9
    checkpoint.on_epoch_end(2, {"loss": 0.5, "val_accuracy": 0.95})
    assert best.read_bytes().startswith(b"PK")  # saved: 0.95 > 0.9


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(ValueError, match=r"not a run directory.*holiday.jpg"):
        kr.train(
            "ResNet20",
            small_digits(),
            str(folder),
            epochs=1,
            resume=True,
            export=False,
            verbose=0,
            model_overrides=TINY,
        )
    assert sorted(os.listdir(folder)) == ["holiday.jpg"]


def test_a_new_run_refuses_a_folder_holding_the_users_files(tmp_path, capsys):
    """Without --resume too: a run would overwrite the user's metrics.json and
    history.csv and clear saved_model/."""
    from keras_residual.cli import main

    folder = tmp_path / "results"
    (folder / "saved_model").mkdir(parents=True)
    (folder / "metrics.json").write_text('{"mine": 1}')
    (folder / "saved_model" / "thesis.pb").write_bytes(b"keep me")
    with pytest.raises(ValueError, match=r"not a run directory.*metrics.json"):
        kr.train(
            "ResNet20", small_digits(), str(folder), epochs=1, verbose=0,
            export=False, model_overrides=TINY,
        )  # fmt: skip
    code = main(["train", "--model", "ResNet20", "--epochs", "1", "--out", "/"])
    assert code == 2 and "'/' is not a run directory" in capsys.readouterr().err
    assert not os.path.exists("/run.json")
    assert (folder / "metrics.json").read_text() == '{"mine": 1}'
    assert sorted(os.listdir(folder / "saved_model")) == ["thesis.pb"]


def test_resume_removes_the_staging_a_killed_export_left(tmp_path):
    common = dict(
        epochs=1,
        batch_size=32,
        precision="float32",
        export=False,
        verbose=0,
        model_overrides=TINY,
    )
    out = tmp_path / "run"
    kr.train("ResNet20", small_digits(), str(out), **common)
    stale = out / ".saved_model.kr-abc12345.tmp"  # atomic_directory's form
    (stale / "variables").mkdir(parents=True)
    (out / ".model.keras.kr-x1y2z3w4.tmp.keras").write_bytes(b"half")
    kr.train("ResNet20", small_digits(), str(out), resume=True, **common)
    assert [name for name in os.listdir(out) if ".tmp" in name] == []


def test_a_folder_of_hidden_files_is_refused_and_kept(tmp_path):
    folder = tmp_path / "mine"
    (folder / ".cache.tmp").mkdir(parents=True)
    (folder / ".cache.tmp" / "keep.txt").write_text("keep")
    (folder / ".notes.tmp").write_text("notes")
    for resume in (False, True):
        with pytest.raises(ValueError, match=r"not a run directory.*\.cache\.tmp"):
            kr.train(
                "ResNet20", small_digits(), str(folder), epochs=1, resume=resume,
                export=False, verbose=0, model_overrides=TINY,
            )  # fmt: skip
    assert (folder / ".notes.tmp").read_text() == "notes"
    assert (folder / ".cache.tmp" / "keep.txt").read_text() == "keep"


def test_only_the_staging_of_atomic_writes_is_cleared(tmp_path):
    # A killed writer's real staging name, made by the writer itself.
    killed = None
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(tmp_path / "model.keras"), suffix=".keras") as staged:
            killed = os.path.basename(staged)
            raise KeyboardInterrupt
    with open(tmp_path / killed, "w") as handle:  # as if SIGKILLed
        handle.write("half")
    legacy = ".saved_model.x1y2z3w4.tmp"  # the form before `kr-`
    (tmp_path / legacy).mkdir()
    users = [".notes.tmp", ".cache.tmp", ".model.keras.tmp", "a.tmp"]
    for name in users:
        (tmp_path / name).write_text("mine")
    assert sorted(remove_stale_staging(str(tmp_path))) == sorted([killed, legacy])
    assert sorted(os.listdir(tmp_path)) == sorted(users)


@pytest.mark.parametrize("kind", ["fifo", "zero", "directory"])
@pytest.mark.parametrize("name", ["run.json", "state.json"])
def test_a_special_run_json_or_state_json_is_refused_at_once(tmp_path, kind, name):
    read = {
        "run.json": lambda: check_run_dir(str(tmp_path), {}, resume=True),
        "state.json": lambda: ResumableBackup(str(tmp_path)).read_state(),
    }[name]
    special_file(kind, tmp_path / name)
    with (
        deadline(),
        pytest.raises(ValueError, match=rf"{name}.*(FIFO|device|directory)"),
    ):
        read()


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not readable JSON"),
        ('["epoch", 3]', "is not an object"),
        (
            '{"epoch": "3", "weights": "epoch-0003.weights.h5", "history": []}',
            "epoch count",
        ),
        ({**GOOD_STATE, "weights": "../../outside.weights.h5"}, "names no checkpoint"),
        ({**GOOD_STATE, "weights": "/etc/passwd"}, "names no checkpoint"),
        ({**GOOD_STATE, "history": {"loss": 1}}, "history rows"),
        ({**GOOD_STATE, "previous": {"epoch": 1, "weights": "x"}}, "previous state"),
        ({**GOOD_STATE, "previous": [1]}, "previous state.*not an object"),
    ],
)
def test_a_foreign_state_json_is_refused_naming_what_does_not_fit(
    tmp_path, content, message
):
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / "state.json").write_text(text)
    with deadline(), pytest.raises(ValueError, match=message):
        ResumableBackup(str(tmp_path)).read_state()


def test_a_state_json_as_written_by_a_run_reads_back(tmp_path):
    state = {**GOOD_STATE, "sha256": "ab" * 32, "seed_states": [[1, 2]]}
    state["previous"] = {**GOOD_STATE, "epoch": 1, "weights": "epoch-0001.weights.h5"}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert ResumableBackup(str(tmp_path)).read_state() == state
