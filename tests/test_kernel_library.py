"""TensorFlow's CPU kernels: `import keras_residual` asks for oneDNN's on
x86-64 before TensorFlow loads, and leaves a user's setting alone."""

import os
import platform

import pytest

from keras_residual.utils.kernel_library import SWITCH
from keras_residual.utils.kernel_library import onednn_enabled
from keras_residual.utils.kernel_library import prefer_onednn


@pytest.mark.parametrize("machine", ["x86_64", "AMD64"])
def test_onednn_is_asked_for_on_x86_64_before_tensorflow_loads(machine):
    environ = {}
    assert prefer_onednn(environ, modules={}, machine=machine) is True
    assert environ == {SWITCH: "1"}


@pytest.mark.parametrize(
    "environ, modules, machine",
    [
        ({SWITCH: "0"}, {}, "x86_64"),  # the user's choice
        ({}, {"tensorflow": object()}, "x86_64"),  # too late to take effect
        ({}, {}, "aarch64"),
    ],
)
def test_a_users_setting_a_loaded_tensorflow_or_another_cpu_is_left_alone(
    environ, modules, machine
):
    before = dict(environ)
    assert prefer_onednn(environ, modules, machine) is False
    assert environ == before


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only"
)
def test_this_process_runs_the_kernels_the_switch_names():
    """conftest imports the package before Keras, as a user would: had the
    package loaded TensorFlow before setting the switch, TensorFlow would
    run Eigen's kernels here (on CPUs where it would not pick oneDNN by
    itself, such as an AMD EPYC) while the switch said oneDNN."""
    import tensorflow  # noqa: F401

    assert os.environ.get(SWITCH) in ("0", "1")
    if os.environ[SWITCH] == "1":
        assert onednn_enabled() is True
