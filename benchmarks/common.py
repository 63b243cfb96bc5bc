"""Shared benchmark helpers: hardware description, timing, result files."""

import os
import platform
import statistics
import time

from keras_residual.atomic import write_json


def hardware():
    """Describes the machine and the software stack the figures came from."""
    import keras

    from keras_residual.precision import cpu_name

    cpu = cpu_name()
    if cpu == "cpu":  # no /proc/cpuinfo
        cpu = platform.processor() or "unknown"
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
    if info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    return info


def summarize(samples):
    """Median and spread (min, max) of a list of measurements."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
    }


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def write_result(name, payload, folder=None):
    """Writes `payload` to benchmarks/results/{name}.json atomically."""
    folder = folder or os.path.join(os.path.dirname(__file__), "results")
    path = os.path.join(folder, f"{name}.json")
    write_json(path, payload)
    return path
