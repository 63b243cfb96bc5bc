"""`precision="auto"` on CPUs: the decision from (injected) probe results,
the cache, the override, and the real probe on this machine."""

import json
import os

import keras
import pytest

import keras_residual as kr
from keras_residual.training.precision import Hardware
from keras_residual.training.precision import auto_precision
from keras_residual.training.precision_probe import ProbeResult
from keras_residual.training.precision_probe import cache_path
from keras_residual.training.precision_probe import probe_shapes
from keras_residual.training.precision_probe import run_probe
from keras_residual.utils.kernel_library import SWITCH

CPU = Hardware("cpu", cpu_flags=frozenset({"avx512_bf16"}), device_name="Test CPU")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RESIDUAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KERAS_RESIDUAL_PRECISION", raising=False)


def injected(float32_seconds, bfloat16_seconds, calls=None):
    def probe(shapes):
        if calls is not None:
            calls.append(shapes)
        return ProbeResult(float32_seconds, bfloat16_seconds, tuple(shapes))

    return probe


@pytest.mark.parametrize(
    "float32_seconds, bfloat16_seconds, expected",
    [
        (1.0, 0.5, "mixed_bfloat16"),  # 2x, ResNet-50 on an AMD EPYC
        (1.0, 0.9, "mixed_bfloat16"),  # 1.11x: just over the 10% bar
        (1.0, 0.95, "float32"),  # 1.05x: near parity is not worth it
        (1.0, 1.45, "float32"),  # 0.69x, an Intel Xeon without AMX
    ],
)
def test_cpu_choice_follows_the_measured_speed(
    float32_seconds, bfloat16_seconds, expected
):
    probe = injected(float32_seconds, bfloat16_seconds)
    assert auto_precision(CPU, shapes=((8, 16),), probe=probe) == expected


def test_the_flag_alone_no_longer_decides():
    without_flag = Hardware("cpu", device_name="Other CPU")
    assert auto_precision(without_flag, probe=injected(1.0, 0.5)) == "mixed_bfloat16"
    assert auto_precision(CPU, probe=injected(1.0, 2.0)) == "float32"


def test_results_are_cached_per_cpu_and_shapes(tmp_path):
    calls = []
    probe = injected(1.0, 0.5, calls)
    for _ in range(3):
        auto_precision(CPU, shapes=((8, 16),), probe=probe)
    assert len(calls) == 1  # probed once, then read from the cache
    auto_precision(CPU, shapes=((4, 32),), probe=probe)
    assert len(calls) == 2  # other shapes: another probe
    other = Hardware("cpu", device_name="Another CPU")
    auto_precision(other, shapes=((8, 16),), probe=probe)
    assert len(calls) == 3
    entries = json.load(open(cache_path()))
    assert len(entries) == 3
    assert {entry["choice"] for entry in entries.values()} == {"mixed_bfloat16"}


def test_a_corrupt_cache_is_ignored_with_a_warning_and_rewritten():
    os.makedirs(os.path.dirname(cache_path()), exist_ok=True)
    with open(cache_path(), "w") as handle:
        handle.write("{not json")
    with pytest.warns(UserWarning, match="Ignoring the unreadable precision cache"):
        choice = auto_precision(CPU, shapes=((8, 16),), probe=injected(1.0, 2.0))
    assert choice == "float32"
    assert len(json.load(open(cache_path()))) == 1
    with open(cache_path(), "w") as handle:
        json.dump(["a", "list"], handle)
    with pytest.warns(UserWarning, match="not a JSON object"):
        auto_precision(CPU, shapes=((8, 16),), probe=injected(1.0, 2.0))


def test_environment_variable_overrides_the_probe(monkeypatch):
    monkeypatch.setenv("KERAS_RESIDUAL_PRECISION", "float32")
    assert kr.resolve_precision("auto", CPU, probe=injected(1.0, 0.1)) == "float32"
    assert kr.resolve_precision("mixed_bfloat16", CPU) == "mixed_bfloat16"
    monkeypatch.setenv("KERAS_RESIDUAL_PRECISION", "bf16")
    with pytest.raises(ValueError, match="KERAS_RESIDUAL_PRECISION"):
        kr.resolve_precision("auto", CPU)


def test_the_real_probe_measures_both_precisions():
    result = run_probe(((8, 8), (4, 16)), batch=2)
    assert result.float32_seconds > 0 and result.bfloat16_seconds > 0
    assert result.shapes == ((8, 8), (4, 16))
    assert result.speedup == result.float32_seconds / result.bfloat16_seconds


def test_probe_shapes_follow_the_model_and_its_input():
    resnet50 = probe_shapes(kr.get_spec("ResNet50"), (224, 224, 3))
    assert resnet50 == ((56, 64), (28, 128), (14, 256), (7, 512))
    resnet20 = probe_shapes(kr.get_spec("ResNet20"), (32, 32, 1))
    assert resnet20 == ((32, 16), (16, 32), (8, 64))


def test_env_command_prints_hardware_probe_and_choice(capsys):
    from keras_residual.cli import main

    assert main(["env", "--model", "ResNet20", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "precision='auto' chooses:" in out
    assert "[(32, 16), (16, 32), (8, 64)]" in out
    assert "bfloat16 speed" in out and "ms/step" in out
    if keras.backend.backend() == "tensorflow":
        assert "TensorFlow CPU kernels: " in out
        named = {"0": "Eigen (TensorFlow's own)", "1": "oneDNN"}
        switch = os.environ.get(SWITCH)
        if switch in named:  # set by the user: TensorFlow follows it
            assert f"TensorFlow CPU kernels: {named[switch]}; {SWITCH}={switch}" in out
