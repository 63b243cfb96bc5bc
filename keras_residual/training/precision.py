"""Automatic mixed precision and XLA choices for the hardware at hand.

`precision="auto"` picks `mixed_bfloat16` on NVIDIA GPUs of compute
capability >= 8.0 (no loss scaling needed), `mixed_float16` on 7.x,
`float32` below; `mixed_bfloat16` on TPUs; and on CPUs whatever a short,
cached probe measured faster (`precision_probe`). `KERAS_RESIDUAL_PRECISION`
overrides the choice. `jit_compile="auto"` turns XLA on for JAX and for
TensorFlow on accelerators, and off for TensorFlow on CPU, where it was
measured slower (see `benchmarks/precision_xla.py`).
"""

import dataclasses
import os

import keras

from keras_residual.training.options import PRECISIONS
from keras_residual.training.precision_probe import DEFAULT_SHAPES
from keras_residual.training.precision_probe import measured_cpu_precision
from keras_residual.training.precision_probe import run_probe
from keras_residual.utils.validation import check_choice

JIT_CHOICES = ("auto", True, False)
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
PRECISION_ENV = "KERAS_RESIDUAL_PRECISION"


@dataclasses.dataclass(frozen=True)
class Hardware:
    """What the precision choice looks at.

    Args:
        accelerator: str. `"gpu"`, `"tpu"` or `"cpu"`.
        gpu_compute_capability: tuple or None. `(major, minor)` of the first
            NVIDIA GPU.
        cpu_flags: frozenset of str. The CPU's feature flags (Linux).
        device_name: str. A readable name for reports.
    """

    accelerator: str
    gpu_compute_capability: tuple = None
    cpu_flags: frozenset = frozenset()
    device_name: str = ""


def _cpuinfo_value(key, path="/proc/cpuinfo"):
    """The value of the first `key : value` line of `/proc/cpuinfo`, or None
    where there is no such line or file (macOS, Windows)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def read_cpu_flags(path="/proc/cpuinfo"):
    """Returns the CPU feature flags from `/proc/cpuinfo`, or an empty set
    where that file does not exist (macOS, Windows).

    Args:
        path: str. The cpuinfo file. Defaults to `"/proc/cpuinfo"`.
    """
    return frozenset((_cpuinfo_value("flags", path) or "").split())


def cpu_name():
    """The CPU's model name from `/proc/cpuinfo`, else `"cpu"`."""
    return _cpuinfo_value("model name") or "cpu"


def detect_hardware():
    """Inspects the current backend's devices and the CPU.

    Returns:
        A `Hardware`.
    """
    flags = read_cpu_flags()
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # lazy: only the active backend is imported

        device = jax.devices()[0]
        if device.platform == "gpu":
            capability = getattr(device, "compute_capability", None)
            return Hardware("gpu", _capability(capability), flags, device.device_kind)
        if device.platform == "tpu":
            return Hardware("tpu", None, flags, device.device_kind)
    elif backend == "tensorflow":
        import tensorflow as tf  # lazy: only the active backend is imported

        if tf.config.list_logical_devices("TPU"):
            return Hardware("tpu", None, flags, "TPU")
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return Hardware(
                "gpu",
                details.get("compute_capability"),
                flags,
                details.get("device_name", "GPU"),
            )
    elif backend == "torch":
        import torch  # lazy: only the active backend is imported

        if torch.cuda.is_available():
            return Hardware(
                "gpu",
                torch.cuda.get_device_capability(0),
                flags,
                torch.cuda.get_device_name(0),
            )
    return Hardware("cpu", None, flags, cpu_name())


def _capability(value):
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(int(part) for part in value.split(".")[:2])
    return tuple(value)


def auto_precision(hardware=None, shapes=None, probe=None):
    """The dtype policy name `precision="auto"` resolves to.

    Args:
        hardware: `Hardware` or None. Defaults to `detect_hardware()`.
        shapes: tuple or None. `(resolution, width)` of the model's stages,
            for the CPU probe (see `precision_probe.probe_shapes`).
            Defaults to ResNet-50's at 224 px.
        probe: callable or None. `probe(shapes) -> ProbeResult`; tests
            inject results here. Defaults to `run_probe` (cached).
    """
    hardware = hardware or detect_hardware()
    if hardware.accelerator == "gpu":
        capability = tuple(hardware.gpu_compute_capability or (0, 0))
        if capability >= (8, 0):
            return "mixed_bfloat16"
        if capability >= (7, 0):
            return "mixed_float16"
        return "float32"
    if hardware.accelerator == "tpu":
        return "mixed_bfloat16"
    policy, _ = measured_cpu_precision(
        hardware.device_name or "cpu", shapes or DEFAULT_SHAPES, probe or run_probe
    )
    return policy


def resolve_precision(precision="auto", hardware=None, shapes=None, probe=None):
    """Checks `precision` and resolves `"auto"` to a dtype policy name
    (`KERAS_RESIDUAL_PRECISION`, when set, decides `"auto"`).

    Args:
        precision: str. One of `"auto"`, `"float32"`, `"mixed_float16"`,
            `"mixed_bfloat16"`. Defaults to `"auto"`.
        hardware: `Hardware` or None. For `"auto"`; defaults to the
            detected hardware.
        shapes: tuple or None. The CPU probe's shapes (see
            `auto_precision`).
        probe: callable or None. See `auto_precision`.
    """
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    forced = os.environ.get(PRECISION_ENV)
    if forced:
        check_choice(PRECISION_ENV, forced, PRECISIONS[1:])
        return forced
    return auto_precision(hardware, shapes, probe)


def set_precision(precision="auto", shapes=None):
    """Sets Keras' global dtype policy and returns its name.

    Models built afterwards compute in the policy's dtype; keras_residual
    heads stay float32 and `Recipe.compile_kwargs` adds loss scaling for
    `mixed_float16`.

    Args:
        precision: str. See `resolve_precision`. Defaults to `"auto"`.
        shapes: tuple or None. The CPU probe's shapes for `"auto"` (the
            model's stages). Defaults to ResNet-50's.
    """
    policy = resolve_precision(precision, shapes=shapes)
    keras.config.set_dtype_policy(policy)
    return policy


def resolve_jit_compile(jit_compile="auto", hardware=None):
    """Resolves `jit_compile="auto"` to a bool.

    XLA is on for JAX (where everything is compiled anyway) and for
    TensorFlow on GPUs and TPUs. It is off for TensorFlow on CPU, where it
    made ResNet training slower here, and for torch.

    Args:
        jit_compile: `"auto"`, True or False. Defaults to `"auto"`.
        hardware: `Hardware` or None. Defaults to the detected hardware.
    """
    if jit_compile not in JIT_CHOICES or not isinstance(jit_compile, (str, bool)):
        raise ValueError(
            f"`jit_compile` must be 'auto', True or False; received {jit_compile!r}."
        )
    if jit_compile != "auto":
        return jit_compile
    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if backend == "tensorflow":
        hardware = hardware or detect_hardware()
        return hardware.accelerator != "cpu"
    return False
