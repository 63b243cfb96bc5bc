"""Which CPU kernels TensorFlow runs: oneDNN's or its own (Eigen's).

TensorFlow turns oneDNN on by itself only on Intel CPUs with AVX-512; on
other x86-64 CPUs (an AMD EPYC, a Xeon without AVX-512) it runs Eigen's
kernels, and there a ResNet20 training step took 2.4x as long (a 2-core
AMD EPYC, `python -m benchmarks kernel_library`). TensorFlow reads its
switch, `TF_ENABLE_ONEDNN_OPTS`, once, when it loads; so `import
keras_residual` (and the command line) sets it to `1` on x86-64 before
TensorFlow loads, unless it is set already (`TF_ENABLE_ONEDNN_OPTS=0` keeps
Eigen's kernels) or TensorFlow was imported first (then TensorFlow's own
choice stands). `keras-residual env` says which kernels run.
"""

import os
import platform
import sys

SWITCH = "TF_ENABLE_ONEDNN_OPTS"
X86_64 = ("x86_64", "amd64")


def prefer_onednn(environ=None, modules=None, machine=None):
    """Sets `TF_ENABLE_ONEDNN_OPTS=1` where it can still take effect.

    Args:
        environ: mapping or None. The environment to set it in. Defaults
            to `os.environ`.
        modules: mapping or None. The loaded modules. Defaults to
            `sys.modules`.
        machine: str or None. The CPU architecture. Defaults to
            `platform.machine()`.

    Returns:
        True where it set the switch; False where the user had set it,
        TensorFlow was already loaded or the CPU is not x86-64.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    machine = platform.machine() if machine is None else machine
    if SWITCH in environ or "tensorflow" in modules:
        return False
    if machine.lower() not in X86_64:
        return False
    environ[SWITCH] = "1"
    return True


def onednn_enabled():
    """Whether the loaded TensorFlow runs oneDNN's kernels (None where
    TensorFlow is not loaded or does not say)."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())
