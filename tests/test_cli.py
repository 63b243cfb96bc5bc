"""The `keras-residual` command line as real processes, and an example."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import load_example

pytestmark = pytest.mark.slow  # real processes, and ImageNet-size builds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def test_models_command_lists_the_zoo_and_weights():
    result = run("-m", "keras_residual.cli", "models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        layer.startswith("ResNet50 ")
        and "[weights: imagenet, resnet50.a1_in1k, resnet50.tv2_in1k" in layer
        for layer in lines
    )
    assert any(layer.startswith("PreActResNet164 ") for layer in lines)


def test_summary_command_and_its_errors():
    result = run("-m", "keras_residual.cli", "summary", "ResNet20", "--depths", "1,1,1")
    assert result.returncode == 0, result.stderr
    assert "conv4_block1_out" in result.stdout
    # Counted by hand: 3x3 stem conv + BN (4 variables per channel), one
    # basic block per stage (two 3x3 convs + BNs), then the dense head.
    expected = (
        3 * 3 * 3 * 16
        + 4 * 16
        + 64 * 10
        + 10
        + sum(
            9 * i * o + 4 * o + 9 * o * o + 4 * o
            for i, o in [(16, 16), (16, 32), (32, 64)]
        )
    )
    assert f"resnet20: {expected:,} parameters" in result.stdout
    # --spec prints one JSON document on stdout (the summary line goes to
    # stderr), so `summary ResNet20 --spec > spec.json` is the spec.
    spec = run("-m", "keras_residual.cli", "summary", "ResNet20", "--spec")
    assert spec.returncode == 0, spec.stderr
    assert json.loads(spec.stdout)["stages"][0]["depth"] == 3
    assert "resnet20: " in spec.stderr
    bad = run("-m", "keras_residual.cli", "summary", "ResNet5")
    assert bad.returncode == 2
    assert "Did you mean" in bad.stderr and "ResNet50" in bad.stderr


def test_build_and_summarize_example_runs(capsys):
    load_example("build_and_summarize").main()  # in this process: no CLI here
    printed = capsys.readouterr().out
    assert "ResNet50: 25,636,712 parameters" in printed
    assert "(3, 4, 23, 3) stages: 44,707,176" in printed
