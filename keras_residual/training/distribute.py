"""Data-parallel training set-ups for `fit`.

- `"mirrored"`: `tf.distribute.MirroredStrategy` over the local devices
  (TensorFlow backend).
- `"data_parallel"`: `keras.distribution.DataParallel` (JAX backend), over
  several processes when a coordinator address and process count are given
  (flags or Keras' `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
  `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`). On
  CPU the processes talk through gloo collectives.

`tf.distribute.MultiWorkerMirroredStrategy` is not offered: it fails inside
Keras 3's `fit` (keras-team/keras#20585).
"""

import contextlib
import dataclasses
import importlib.util
import os

import keras

from keras_residual.training.options import DISTRIBUTIONS
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int


@dataclasses.dataclass
class Distribution:
    """The active data-parallel set-up.

    Args:
        kind: str. One of `DISTRIBUTIONS`.
        replicas: int. Devices that each take a slice of the batch.
        process_id: int. This process's index.
        num_processes: int. Processes taking part.
        strategy: `tf.distribute.Strategy` or None. For `"mirrored"`.
    """

    kind: str = "none"
    replicas: int = 1
    process_id: int = 0
    num_processes: int = 1
    strategy: object = None

    @property
    def is_chief(self):
        """True on the process that writes run artifacts."""
        return self.process_id == 0

    def scope(self):
        """The context in which to build and compile the model."""
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()


def setup_distribution(
    kind="none", coordinator_address=None, num_processes=None, process_id=None
):
    """Sets up data parallelism and returns a `Distribution`.

    Args:
        kind: str. `"none"`, `"mirrored"` or `"data_parallel"`. Defaults to
            `"none"`.
        coordinator_address: str or None. `host:port` of process 0, for
            multi-process `"data_parallel"`. Defaults to
            `KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: int or None. Defaults to
            `KERAS_DISTRIBUTION_NUM_PROCESSES`, else 1.
        process_id: int or None. Defaults to `KERAS_DISTRIBUTION_PROCESS_ID`,
            else 0.
    """
    check_choice("distribute", kind, DISTRIBUTIONS)
    backend = keras.backend.backend()
    if kind == "none":
        return Distribution()
    if kind == "mirrored":
        if backend != "tensorflow":
            raise ValueError(
                "`distribute='mirrored'` needs the TensorFlow backend; the "
                f"backend is {backend!r}. Use distribute='data_parallel' with "
                "JAX, or set KERAS_BACKEND=tensorflow."
            )
        import tensorflow as tf  # lazy: only the active backend is imported

        strategy = tf.distribute.MirroredStrategy()
        return Distribution(
            "mirrored", strategy.num_replicas_in_sync, strategy=strategy
        )
    if backend != "jax":
        raise ValueError(
            "`distribute='data_parallel'` needs the JAX backend; the backend "
            f"is {backend!r}. Set KERAS_BACKEND=jax, or use "
            "distribute='mirrored' with TensorFlow."
        )
    return _setup_jax_data_parallel(coordinator_address, num_processes, process_id)


def _setup_jax_data_parallel(coordinator_address, num_processes, process_id):
    import jax  # lazy: only the active backend is imported

    env = os.environ
    coordinator_address = coordinator_address or env.get(
        "KERAS_DISTRIBUTION_JOB_ADDRESSES"
    )
    num_processes = check_int(
        "num_processes",
        int(num_processes or env.get("KERAS_DISTRIBUTION_NUM_PROCESSES", 1)),
        minimum=1,
    )
    process_id = check_int(
        "process_id",
        int(
            process_id
            if process_id is not None
            else env.get("KERAS_DISTRIBUTION_PROCESS_ID", 0)
        ),
        minimum=0,
        maximum=num_processes - 1,
    )
    if num_processes > 1:
        if not coordinator_address:
            raise ValueError(
                f"`num_processes={num_processes}` needs a coordinator address "
                "(`--coordinator-address HOST:PORT` or "
                "KERAS_DISTRIBUTION_JOB_ADDRESSES)."
            )
        if jax.config.jax_platforms in (None, "", "cpu") and _only_cpu_platform():
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if not jax.distributed.is_initialized():
            keras.distribution.initialize(
                coordinator_address, num_processes, process_id
            )
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    return Distribution("data_parallel", len(devices), process_id, num_processes)


def _only_cpu_platform():
    """True unless an accelerator plugin is installed. Checked without
    initialising JAX's backends, which must wait for
    `jax.distributed.initialize`."""
    return not any(
        importlib.util.find_spec(name)
        for name in ("jax_cuda12_plugin", "jax_cuda13_plugin", "libtpu")
    )
