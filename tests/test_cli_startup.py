"""The command line answers without TensorFlow where it needs none:
`--help`, `--version`, a mistyped command and `models`/`weights` (read
from the committed catalog, which must match the registries); a command
that needs TensorFlow loads it without its C++ start-up lines."""

import argparse
import json
import os
import shutil
import subprocess
import sys

import pytest

from keras_residual.cli import build_parser
from keras_residual.cli.catalog import read_catalog
from keras_residual.cli.commands import COMMANDS
from tests.conftest import tiny_resnet

# A child that runs the command line as the console script does (argv[0]
# is `keras-residual`): `run(argv)` gives the exit code, `heavy()` the heavy
# libraries imported so far.
CONSOLE_CHILD = """
import sys
sys.argv[0] = "keras-residual"
from keras_residual.cli import main

def run(argv):
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code

def heavy():
    loaded = {m.split(".")[0] for m in sys.modules}
    return sorted(loaded & {"tensorflow", "keras", "jax"})
"""
AS_CONSOLE_SCRIPT = (
    CONSOLE_CHILD
    + """
code = run(sys.argv[1:])
print("HEAVY", heavy(), "CODE", code, file=sys.stderr)
"""
)


def _run(*argv, env=None):
    return subprocess.run(
        [sys.executable, "-c", AS_CONSOLE_SCRIPT, *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or dict(os.environ),
    )


@pytest.mark.parametrize(
    "argv, code, expected",
    [
        (["--help"], 0, "{models,weights,blocks"),
        (["--version"], 0, "keras-residual 0."),
        (["trian"], 2, "invalid choice: 'trian' (choose from 'models', "),
        (["trian"], 2, "Did you mean 'train'"),
        (["models", "resnet5*"], 0, "ResNet50 "),
        (["weights", "ResNet50"], 0, "resnet50.a1_in1k"),
        (["weights", "ResNt50"], 2, "Did you mean 'ResNet50'"),
    ],
)
def test_light_commands_never_import_tensorflow(argv, code, expected):
    result = _run(*argv)
    assert f"HEAVY [] CODE {code}" in result.stderr, result.stderr[-3000:]
    assert expected in result.stdout + result.stderr


EVERY_HELP = (
    CONSOLE_CHILD
    + """
import contextlib, io
from keras_residual.cli.commands import COMMANDS
for argv in [[name, "--help"] for name in COMMANDS] + [["train", "--epochs", "x"]]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code = run(argv)
    usage = out.getvalue().startswith(f"usage: keras-residual {argv[0]} ")
    print(argv[0], code, usage, (err.getvalue().strip().splitlines() or [""])[-1])
print("HEAVY", heavy())
"""
)


def test_every_commands_help_and_a_bad_flag_answer_without_tensorflow():
    # Parsing runs no model: each command's --help, and a flag's bad value,
    # answer before TensorFlow loads (it loads only to run the command).
    result = subprocess.run(
        [sys.executable, "-c", EVERY_HELP], capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    assert lines[-1] == "HEAVY []", result.stdout + result.stderr[-2000:]
    for line, name in zip(lines, COMMANDS):
        assert line.split()[:3] == [name, "0", "True"], line
    assert lines[len(COMMANDS)].startswith("train 2 False "), lines[len(COMMANDS)]
    assert "invalid int value: 'x'" in lines[len(COMMANDS)]


@pytest.mark.slow
def test_a_command_needing_tensorflow_prints_none_of_its_start_up_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = _run("blocks", env=env)
    assert result.stdout.startswith("basic ")
    # Nothing but the report line: no oneDNN, CUDA or absl lines.
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'tensorflow'] CODE 0" in lines[0], result.stderr


def test_the_console_script_and_python_m_take_the_same_light_path():
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")  # stderr lists imports
    commands = [[sys.executable, "-m", "keras_residual.cli", "--version"]]
    if shutil.which("keras-residual"):  # installed with its console script
        commands.append([shutil.which("keras-residual"), "--version"])
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        assert result.stdout.startswith("keras-residual"), result.stderr[-2000:]
        assert "keras_residual.cli" in result.stderr  # the listing works
        assert "tensorflow" not in result.stderr, command


LIVE_CATALOG = """
import json
from keras_residual.cli.catalog import build_catalog
print(json.dumps(build_catalog(sizes=False)))
"""


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_the_catalog_matches_the_registries():
    # `python -m keras_residual.cli.catalog` rewrites it after a model or
    # weights entry is registered. (Sizes need built models: not compared.)
    committed = read_catalog()
    for entry in committed["models"].values():
        for info in entry["weights"].values():
            assert info.pop("size_mb") > 0
    # In a fresh process: a test may have registered a model of its own here.
    live = subprocess.run(
        [sys.executable, "-c", LIVE_CATALOG], capture_output=True, text=True
    )
    assert live.returncode == 0, live.stderr[-2000:]
    assert committed == json.loads(live.stdout.splitlines()[-1])


def test_every_command_in_the_table_is_the_one_its_module_adds():
    names = {n for n in COMMANDS} | {a for c in COMMANDS.values() for a in c.aliases}
    for name in COMMANDS:
        parser = build_parser(name)
        action = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        )
        assert set(action.choices) == names, name
        # The command's own parser is the module's, with its options.
        own = action.choices[name]
        assert own.format_help() != argparse.ArgumentParser().format_help()


WARNS = """
import sys, warnings
sys.argv[0] = "keras-residual"
from keras_residual.cli import main
from keras_residual.cli import zoo
before = warnings.formatwarning
zoo._models = lambda args: warnings.warn("an old flag", FutureWarning)
code = main(sys.argv[1:])
print("RESTORED", warnings.formatwarning is before, "CODE", code)
"""


def test_a_warning_is_one_line_without_its_source():
    for argv, one_line in ((["models"], True), (["--debug", "models"], False)):
        result = subprocess.run(
            [sys.executable, "-c", WARNS, *argv], capture_output=True, text=True
        )
        assert "RESTORED True CODE 0" in result.stdout, result.stderr
        lines = result.stderr.strip().splitlines()
        if one_line:
            assert lines == ["keras-residual: warning: an old flag (FutureWarning)"]
        else:  # --debug: Python's own format, the file and line first
            assert lines[0] == "<string>:7: FutureWarning: an old flag"


@pytest.mark.slow
def test_predict_on_onnx_and_tflite_loads_no_tensorflow_and_agrees(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    import keras_residual as kr
    from keras_residual.cli import main

    model = tiny_resnet(input_shape=(32, 32, 3), classes=5)
    onnx = kr.export(model, str(tmp_path / "m.onnx"), "onnx", preprocessing="tf")
    lite = kr.export(model, str(tmp_path / "m.tflite"), "tflite", preprocessing="tf")
    saved = kr.export(model, str(tmp_path / "sm"), "saved_model", preprocessing="tf")
    rng = np.random.default_rng(0)
    images = []
    for name, shape in (
        ("rgb.png", (40, 50, 3)),
        ("grey.png", (30, 30)),
        ("x.gif", (20, 40, 3)),
    ):
        pixels = (rng.random(shape) * 255).astype("uint8")
        images.append(str(tmp_path / name))
        Image.fromarray(pixels).save(images[-1])
    assert main(["predict", saved, *images, "--json"]) == 0
    served = json.loads(capsys.readouterr().out)
    for export in (onnx, lite):  # LiteRT runs the .tflite (the test extra has it)
        light = _run("predict", export, *images, "--json")
        assert "HEAVY [] CODE 0" in light.stderr, light.stderr[-3000:]
        for ours, theirs in zip(json.loads(light.stdout), served, strict=True):
            assert [r["class"] for r in ours["top_k"]] == [
                r["class"] for r in theirs["top_k"]
            ]
            for a, b in zip(ours["top_k"], theirs["top_k"]):
                assert a["score"] == pytest.approx(b["score"], abs=1e-5)
