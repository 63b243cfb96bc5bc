"""Loading TensorFlow for a command that needs it without its C++
start-up lines (oneDNN, CUDA, CPU features), which TensorFlow writes to
the process' stderr before its logging settings apply, and then the
package's public names."""

import contextlib
import os
import sys

from keras_residual.utils.lazy_exports import import_exports

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


def import_for_command(quiet=True):
    """What a command that runs a model needs: TensorFlow (quietly), then
    every public name, as `import keras_residual` does outside the command
    line, so every Keras object a `.keras` file names is registered.

    Args:
        quiet: bool. Silence TensorFlow's start-up (False with `--debug`).
            Defaults to `True`.
    """
    import_tensorflow(quiet)
    import keras_residual  # noqa: F401  (in sys.modules for import_exports)

    import_exports("keras_residual")


def import_tensorflow(quiet=True):
    """Imports TensorFlow (once), silencing what it writes to stderr while
    it loads when `quiet` and the user has not set `TF_CPP_MIN_LOG_LEVEL`
    (then its later lines, the cuInit error of a machine without a GPU
    among them, are hidden too: run with `--debug` to see them).

    Args:
        quiet: bool. Silence it (False with `--debug`). Defaults to `True`.
    """
    if "tensorflow" in sys.modules:
        return
    if not quiet or LOG_LEVEL in os.environ:
        import tensorflow  # noqa: F401

        return
    os.environ[LOG_LEVEL] = "3"
    with _stderr_silenced():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 pointed at /dev/null (C++ writes bypass
    `sys.stderr`), restored after."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
