"""`train()`'s options are written once, in option groups (#27): the flat
0.1 keywords and the groups give the same run, the CLI flags come from the
groups' fields, and mistakes are refused with close matches."""

import argparse
import dataclasses
import json
import os

import pytest

import keras_residual as kr
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.data.options import DataOptions
from keras_residual.search.options import SearchOptions
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import RunOptions
from keras_residual.training.runs import RUN_IDENTITY
from tests.conftest import TINY

GROUPS = (
    DataOptions,
    RunOptions,
    DistributionOptions,
    SearchOptions,
    kr.LoadOptions,
    kr.serving.EvaluateOptions,
    kr.serving.ExportOptions,
    kr.hub.PresetOptions,
    kr.hub.PushOptions,
    kr.serving.PredictOptions,
)


def test_each_field_documents_itself_in_the_group_docstring():
    for group in GROUPS:
        for field in dataclasses.fields(group):
            assert f"{field.name}: " in group.__doc__, (group, field.name)
            assert field.metadata["doc"].split()[0] in group.__doc__


def test_cli_flags_are_the_groups_fields_and_parse_back_to_the_defaults():
    parser = argparse.ArgumentParser()
    for group in GROUPS[:3]:  # train's flags; search's below
        add_option_flags(parser, group)
    flags = {a.dest for a in parser._actions}  # noqa: SLF001
    for group in GROUPS[:3]:
        cli_fields = {
            f.name for f in dataclasses.fields(group) if f.metadata.get("cli", True)
        }
        assert cli_fields <= flags
        assert options_from_args(parser.parse_args([]), group) == group()
    args = parser.parse_args(["--no-export", "--jit-compile", "off", "--epochs", "3"])
    run = options_from_args(args, RunOptions)
    assert run == RunOptions(export=False, jit_compile=False, epochs=3)
    # A bool that defaults to True takes --name and --no-name.
    args = parser.parse_args(["--no-tensorboard", "--export"])
    assert options_from_args(args, RunOptions) == RunOptions(tensorboard=False)
    with pytest.raises(SystemExit):
        parser.parse_args(["--precision", "float64"])  # choices from the field
    search = argparse.ArgumentParser()
    add_option_flags(search, SearchOptions)
    assert options_from_args(search.parse_args([]), SearchOptions) == SearchOptions()
    args = search.parse_args(["--tuner", "bayesian", "--max-flops", "5", "--no-export"])
    assert options_from_args(args, SearchOptions) == SearchOptions(
        tuner="bayesian", max_flops=5, export=False
    )


def test_unknown_keywords_and_wrong_groups_are_refused_with_close_matches(tmp_path):
    with pytest.raises(TypeError, match=r"'epoch'.*did you mean 'epochs'"):
        kr.train("ResNet20", "digits", str(tmp_path / "a"), epoch=1)
    with pytest.raises(TypeError, match=r"`run` must be a RunOptions"):
        kr.train("ResNet20", "digits", str(tmp_path / "b"), run={"epochs": 1})
    with pytest.raises(TypeError, match=r"'max_trial'.*did you mean 'max_trials'"):
        kr.search("digits", str(tmp_path / "s"), max_trial=1)
    with pytest.raises(TypeError, match=r"`search_options` must be a SearchOptions"):
        kr.search("digits", str(tmp_path / "t"), search_options=RunOptions())
    for name in "abst":
        assert not os.path.exists(tmp_path / name)
    with pytest.raises(TypeError, match=r"'bach_size'.*did you mean 'batch_size'"):
        kr.load_data("digits", bach_size=3)
    with pytest.raises(TypeError, match=r"`options` must be a LoadOptions"):
        kr.load_data("digits", {"batch_size": 3})


def test_load_data_takes_its_options_as_one_object_or_by_name():
    from keras_residual.utils.options import option_names

    # train's data options pass straight through: each is a load_data option.
    assert set(option_names(DataOptions)) <= set(option_names(kr.LoadOptions))
    options = kr.LoadOptions(batch_size=64, label_mode="categorical")
    assert kr.load_data("digits").batch_size == 128  # the documented default
    for bundle, batch in (
        (kr.load_data("digits", options), 64),
        (kr.load_data("digits", options, batch_size=32), 32),  # the keyword wins
    ):
        images, labels = next(iter(bundle.test))
        assert (len(images), tuple(labels.shape)) == (batch, (batch, 10))
    with pytest.raises(ValueError, match=r"`augment`.*'crop_flp'.*'crop_flip'"):
        kr.load_data("digits", augment="crop_flp")


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.xdist_group("train_tiny")
def test_the_flat_keywords_and_the_groups_give_the_same_run(tmp_path):
    flat = kr.train(
        "ResNet20",
        "digits",
        str(tmp_path / "flat"),
        epochs=1,
        batch_size=128,
        precision="float32",
        seed=3,
        augment="none",
        export=False,
        tensorboard=False,
        verbose=0,
        model_overrides=TINY,
    )
    grouped = kr.train(
        "ResNet20",
        "digits",
        str(tmp_path / "grouped"),
        data=DataOptions(batch_size=128, augment="crop"),
        run=RunOptions(epochs=1, precision="float32", seed=3, export=False),
        augment="none",  # a flat keyword overrides the group's field
        verbose=0,
        model_overrides=TINY,
    )
    settings = [
        json.load(open(os.path.join(r.run_dir, "run.json"))) for r in (flat, grouped)
    ]
    assert settings[0] == settings[1]
    assert set(RUN_IDENTITY) <= set(settings[0])
    assert settings[0]["augment"] == "none" and settings[0]["seed"] == 3
    assert flat.metrics["test_accuracy"] == pytest.approx(
        grouped.metrics["test_accuracy"], abs=1e-6
    )
    assert not os.path.exists(os.path.join(flat.run_dir, "model.keras"))
    # tensorboard=False writes no logs/; the default does.
    assert not os.path.exists(os.path.join(flat.run_dir, "logs"))
    assert os.listdir(os.path.join(grouped.run_dir, "logs"))


def test_every_option_field_has_its_flag_run_json_key_and_docs_row(tmp_path):
    from keras_residual.cli import build_parser
    from keras_residual.cli.explain import ExplainOptions
    from keras_residual.cli.option_docs import PAGE
    from keras_residual.cli.option_docs import options_page
    from keras_residual.cli.options import flag_spellings
    from keras_residual.core.model_options import ModelOverrides
    from keras_residual.hub.hub_options import PresetOptions
    from keras_residual.hub.hub_options import PushOptions
    from keras_residual.serving.serving_options import EvaluateOptions
    from keras_residual.serving.serving_options import ExportOptions
    from keras_residual.serving.serving_options import PredictOptions
    from keras_residual.training.options import LRFindOptions
    from keras_residual.training.plan import plan_run
    from keras_residual.training.recipe_fields import RecipeFields

    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()
    assert page == options_page(), "run python -m keras_residual.cli.option_docs"

    def flags(command):
        parser = build_parser(command)._subparsers._group_actions[0]  # noqa: SLF001
        actions = parser.choices[command]._actions  # noqa: SLF001
        return {flag for action in actions for flag in action.option_strings}

    recipe = {"label_smoothing": 0.05}
    architecture = ModelOverrides(depths=(1, 1, 1), width_multiplier=0.5).given()
    settings = plan_run(
        "ResNet20",
        "digits",
        str(tmp_path / "run"),
        {"data": DataOptions(), "run": RunOptions(), "distribution": GROUPS[2]()},
        architecture,
        recipe,
    ).settings
    assert settings["recipe_overrides"] == recipe
    assert settings["model_overrides"] == {"depths": [1, 1, 1], "width_multiplier": 0.5}
    sections = page.split("\n### ")
    train_groups = (RunOptions, DataOptions, DistributionOptions, RecipeFields)
    for command, groups in (
        ("train", (*train_groups, ModelOverrides)),
        ("summary", (ModelOverrides,)),
        ("search", (SearchOptions, DataOptions)),
        ("export", (ExportOptions,)),
        ("evaluate", (EvaluateOptions,)),
        ("predict", (PredictOptions,)),
        ("lr-find", (LRFindOptions, ModelOverrides)),
        ("explain", (ExplainOptions,)),
        ("preset", (PresetOptions,)),
        ("push", (PushOptions,)),
    ):
        offered = flags(command)
        for group in groups:
            (section,) = [s for s in sections if s.startswith(f"`{group.__name__}`")]
            for field in dataclasses.fields(group):
                has_flag = field.metadata.get("cli", True)
                row = next(
                    line
                    for line in section.splitlines()
                    if line.startswith(f"| `{field.name}` |")
                )
                flag_cell = row.split(" | ")[1]
                for flag in flag_spellings(field):
                    assert flag in offered or not has_flag, (command, flag)
                    assert (f"`{flag}`" in flag_cell) == has_flag, row
                if group in (RunOptions, DataOptions):
                    recorded = field.name in settings
                    assert recorded == bool(field.metadata.get("setting")), field
                    run_json = row.split(" | ")[4]  # the row's `run.json` cell
                    assert run_json.startswith(f"`{field.name}`") == recorded, row


def test_check_options_reads_each_fields_check_from_its_metadata():
    from keras_residual.utils.options import check_options
    from keras_residual.utils.options import option
    from keras_residual.utils.options import option_group

    @option_group
    class Probe:
        """A probe."""

        mode: str = option("a", "A choice.", choices=("a", "b"))
        on: bool = option(False, "A bool.")
        count: int = option(1, "At least 1.", minimum=1)
        rate: float = option(0.5, "In (0, 1].", minimum=0.0, min_inclusive=False)
        cap: float = option(None, "None, or at most 2.", maximum=2.0)

    check_options(Probe())
    check_options(Probe(cap=2.0, rate=1.0))
    for bad, error, message in (
        ({"mode": "c"}, ValueError, r"`mode`.*'c'"),
        ({"on": 1}, TypeError, r"`on` must be a bool"),
        ({"count": 0}, ValueError, r"`count` must lie in \[1, inf\]"),
        ({"count": 1.0}, TypeError, r"`count` must be an integer"),
        ({"rate": 0.0}, ValueError, r"`rate` must lie in \(0.0, inf\]"),
        ({"cap": 3.0}, ValueError, r"`cap` must lie in \[-inf, 2.0\]"),
    ):
        with pytest.raises(error, match=message):
            check_options(Probe(**bad))
    assert "rate: float. In (0, 1]. Defaults to `0.5`." in Probe.__doc__
    assert "cap: float or None." in Probe.__doc__
