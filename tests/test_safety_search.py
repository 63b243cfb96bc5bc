"""Searches: trial ids and saved searches that would write outside their
folder, and search spaces that are malformed. Each test reproduces an attack
or a finding that worked before its fix (the hardening rounds of issues #15
and #40)."""

import json
import os

import pytest

from tests.safety_helpers import _alias_level


def test_trial_ids_must_be_plain_names_inside_the_search_folder(tmp_path):
    from keras_residual.search.hypermodel import trial_backup_dir

    root = tmp_path / "search"
    root.mkdir()
    assert trial_backup_dir(str(root), "07") == os.path.join(
        os.path.realpath(root), "trial_07"
    )
    for hostile in ("../../etc", "/etc", "a/b", "x\x1b", "", "." * 3):
        with pytest.raises(ValueError, match="trial id"):
            trial_backup_dir(str(root), hostile)
    outside = tmp_path / "precious"
    outside.mkdir()
    os.symlink(outside, root / "trial_9")
    with pytest.raises(ValueError, match="outside the search folder"):
        trial_backup_dir(str(root), "9")


@pytest.mark.slow  # over ~6 s: out of the fast tier
@pytest.mark.parametrize(
    "name, text, message",
    [
        # 377 bytes of nested aliases once took 39 s and 2.1 GB.
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(_alias_level(i) for i in range(8)),
            "the alias \\*a \\(aliases are not allowed",
        ),
        ("dup.yaml", "family: [residual]\nfamily: [dense]\n", "duplicate key 'family'"),
        ("dup.json", '{"depth": [1, 2], "depth": [3]}', "duplicate key 'depth'"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_search_spaces_refuse_aliases_duplicates_and_deep_nesting(
    tmp_path, capsys, name, text, message
):
    from keras_residual.cli import main
    from keras_residual.search.space import SearchSpace

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        SearchSpace.from_file(str(path))
    code = main(["tune", "--space", str(path), "--out", str(tmp_path / "search")])
    assert code == 2 and name in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("bad.yaml", "family: [residual\ndepth: 2\n", "line 2, column"),
        ("bad.json", '{"family": ["residual"], "depth": [1, 2,}', "line 1, column"),
    ],
)
@pytest.mark.parametrize("command", ["search", "tune"])  # tune: the 0.1 alias
def test_broken_search_space_files_exit_2_naming_file_line_and_column(
    tmp_path, capsys, name, text, where, command
):
    from keras_residual.cli import main

    path = tmp_path / name
    path.write_text(text)
    code = main([command, "--space", str(path), "--out", str(tmp_path / "search")])
    assert code == 2
    error = capsys.readouterr().err
    assert name in error and where in error


def test_a_saved_search_holding_a_linked_trial_folder_is_refused(tmp_path):
    from keras_residual.search import ResidualHyperModel
    from keras_residual.search import make_tuner
    from keras_residual.search.hypermodel import trial_backup_dir
    from keras_residual.search.space import SearchSpace

    space = SearchSpace({"depth": [1], "base_width": [8], "growth_rate": [8]})
    hypermodel = ResidualHyperModel(space)
    tuner = make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    tuner.oracle.save()
    project = tmp_path / "tuner" / "search"
    state = json.loads((project / "oracle.json").read_text())
    state["start_order"] = ["0"]  # a plain id, listed as the attack did
    (project / "oracle.json").write_text(json.dumps(state))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "trial.json").write_text("the user's file")
    os.symlink(victim, project / "trial_0")
    with pytest.raises(ValueError, match=r"holds .*trial_0.*a link to .*victim"):
        make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    assert (victim / "trial.json").read_text() == "the user's file"
    make_tuner(  # starting over removes the link, not what it points to
        "random", hypermodel, str(tmp_path / "tuner"), max_trials=2, overwrite=True
    )
    assert (victim / "trial.json").read_text() == "the user's file"
    os.symlink(victim, tmp_path / "backups")
    with pytest.raises(ValueError, match="backup folder .* is a link"):
        trial_backup_dir(str(tmp_path / "backups"), "0")


def test_a_saved_search_holding_a_hard_linked_file_is_refused(tmp_path):
    # keras-tuner rewrites oracle.json in place (open(path, "w")), so a
    # second name of it outside the folder (a `cp -l` copy, an unpacked
    # archive's hard link) would be overwritten by a resumed search.
    from keras_residual.search import ResidualHyperModel
    from keras_residual.search import make_tuner
    from keras_residual.search.space import SearchSpace

    space = SearchSpace({"depth": [1], "base_width": [8], "growth_rate": [8]})
    hypermodel = ResidualHyperModel(space)
    tuner = make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    tuner.oracle.save()
    oracle = tmp_path / "tuner" / "search" / "oracle.json"
    outside = tmp_path / "kept.json"
    os.link(oracle, outside)
    before = outside.read_text()
    with pytest.raises(ValueError, match=r"oracle\.json.*a hard link \(one of 2 names"):
        make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    assert outside.read_text() == before
    os.remove(outside)  # one name again: resumes
    make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)


@pytest.mark.parametrize(
    "entry",
    [
        {"learning_rate": [float("inf")]},
        {"learning_rate": [float("nan"), 0.1]},
        {"learning_rate": {"min": 1e-3, "max": float("inf")}},
        {"depth": {"min": 1, "max": 10**30}},
    ],
)
def test_a_search_space_with_non_finite_or_huge_numbers_is_refused_up_front(
    tmp_path, entry
):
    from keras_residual.search.space import SearchSpace

    with pytest.raises(ValueError, match="values must be finite"):
        SearchSpace(entry)
    path = tmp_path / "space.json"  # JSON's 1e999 parses as inf
    path.write_text(json.dumps(entry).replace("Infinity", "1e999"))
    with pytest.raises(ValueError, match="values must be finite"):
        SearchSpace.from_file(str(path))
