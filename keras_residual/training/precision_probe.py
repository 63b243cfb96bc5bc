"""Measuring, not guessing, whether bfloat16 trains faster on this CPU.

A probe times a few forward and backward steps of 3x3 convolutions shaped
like the model's own stages (their resolution and width), in float32 and
in `mixed_bfloat16`, and takes bfloat16 only where it is at least
`MIN_SPEEDUP` faster. The same CPU flag can mean opposite answers (an Intel
Xeon without AMX runs bfloat16 at 0.7x; an AMD EPYC at 2x for ResNet50 but
near parity for ResNet20 at 32 px), so the result is cached per CPU model,
core count, backend, versions and probe shapes, in
`$KERAS_RESIDUAL_CACHE_DIR` (else `$XDG_CACHE_HOME/keras_residual`, else
`~/.cache/keras_residual`).
"""

import dataclasses
import os
import statistics
import time
import warnings

import keras
import numpy as np

from keras_residual.core.builder import plan_blocks
from keras_residual.utils.atomic import write_json
from keras_residual.utils.strict_parsing import read_json_file

MIN_SPEEDUP = 1.10
CACHE_FILE = "precision_probe.json"
# ResNet-50-like stages at 224 px: used when no model is given.
DEFAULT_SHAPES = ((56, 64), (28, 128), (14, 256), (7, 512))
PROBE_BATCH = 4
POLICIES = ("float32", "mixed_bfloat16")
ROUNDS = 5
# Each timed round runs at least this long (several steps of small shapes).
ROUND_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """Seconds per training step of the probe in each precision.

    Args:
        float32_seconds: float. Median step time in float32.
        bfloat16_seconds: float. Median step time in `mixed_bfloat16`.
        shapes: tuple. The `(resolution, width)` pairs probed.
    """

    float32_seconds: float
    bfloat16_seconds: float
    shapes: tuple = DEFAULT_SHAPES

    @property
    def speedup(self):
        """bfloat16's speed relative to float32 (above 1: faster)."""
        return self.float32_seconds / self.bfloat16_seconds


# The cache holds a few entries; a larger file is not ours.
MAX_CACHE_BYTES = 1024 * 1024


def choose_cpu_precision(result):
    """`"mixed_bfloat16"` where the probe measured it at least
    `MIN_SPEEDUP` faster than float32, else `"float32"`.

    Args:
        result: `ProbeResult`. The measurement.
    """
    return "mixed_bfloat16" if result.speedup >= MIN_SPEEDUP else "float32"


def probe_shapes(spec, image_shape):
    """The `(resolution, width)` of each stage of `spec` at `image_shape`:
    what the probe convolves.

    Args:
        spec: `ModelSpec`. The model's spec.
        image_shape: tuple. `(height, width, channels)`.
    """
    size = image_shape[0] or spec.default_size
    shapes = []
    for stage_index, stage in enumerate(spec.stages):
        plans = [p for p in plan_blocks(spec) if p.stage == stage_index]
        resolution = max(1, size // plans[-1].reduction)
        shapes.append((int(resolution), int(min(stage.filters, 1024))))
    return tuple(shapes)


def run_probe(shapes=DEFAULT_SHAPES, batch=PROBE_BATCH, rounds=ROUNDS):
    """Times training steps of the probe in float32 and bfloat16, in
    alternating rounds (so that machine noise hits both alike) of at least
    `ROUND_SECONDS` each; each figure is the median over rounds.

    Args:
        shapes: tuple of `(resolution, width)`. Defaults to ResNet-50's.
        batch: int. Images per step. Defaults to `PROBE_BATCH`.
        rounds: int. Rounds per precision. Defaults to `ROUNDS`.
    """
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(batch, r, r, w)).astype("float32") for r, w in shapes]
    targets = [np.zeros((batch, r, r, w), "float32") for r, w in shapes]
    models, steps = {}, {}
    for policy in POLICIES:
        models[policy] = _probe_model(shapes, policy)
        models[policy].train_on_batch(inputs, targets)  # trace and allocate
        started = time.perf_counter()
        models[policy].train_on_batch(inputs, targets)
        once = max(time.perf_counter() - started, 1e-6)
        steps[policy] = max(1, int(ROUND_SECONDS / once))
    seconds = {policy: [] for policy in POLICIES}
    for _ in range(rounds):
        for policy in POLICIES:
            started = time.perf_counter()
            for _ in range(steps[policy]):
                models[policy].train_on_batch(inputs, targets)
            seconds[policy].append((time.perf_counter() - started) / steps[policy])
    return ProbeResult(
        statistics.median(seconds["float32"]),
        statistics.median(seconds["mixed_bfloat16"]),
        tuple(shapes),
    )


def _probe_model(shapes, policy):
    inputs, outputs = [], []
    for index, (resolution, width) in enumerate(shapes):
        x = keras.Input((resolution, resolution, width), name=f"probe_input_{index}")
        y = keras.layers.Conv2D(
            width, 3, padding="same", dtype=policy, name=f"probe_conv_{index}"
        )(x)
        y = keras.layers.Activation("linear", dtype="float32", name=f"probe_{index}")(y)
        inputs.append(x)
        outputs.append(y)
    model = keras.Model(inputs, outputs, name=f"precision_probe_{policy}")
    model.compile(optimizer="sgd", loss=["mse"] * len(shapes))
    return model


def cache_path():
    """Where probe results are cached."""
    root = os.environ.get("KERAS_RESIDUAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME")
        or os.path.join(os.path.expanduser("~"), ".cache"),
        "keras_residual",
    )
    return os.path.join(root, CACHE_FILE)


def cache_key(cpu, shapes):
    """The cache entry of a probe: CPU model, cores, backend, versions and
    the probe's shapes.

    Args:
        cpu: str. The CPU model name.
        shapes: tuple. The probe's `(resolution, width)` pairs.
    """
    backend = keras.backend.backend()
    return (
        f"{cpu} | {os.cpu_count()} cores | {backend} "
        f"{_backend_version(backend)} | keras {keras.__version__} | "
        f"{list(map(list, shapes))}"
    )


def read_cache():
    """The cached results `{key: {...}}`; an unreadable or foreign cache
    gives `{}` with a warning (it is rewritten on the next probe)."""
    path = cache_path()
    if not os.path.lexists(path):
        return {}
    try:
        entries = read_json_file(path, "The precision cache", MAX_CACHE_BYTES)
        if not isinstance(entries, dict):
            raise ValueError("not a JSON object")
        return entries
    except ValueError as caught:
        error = caught
    warnings.warn(
        f"Ignoring the unreadable precision cache {path} ({error}); it "
        "will be rewritten.",
        stacklevel=2,
    )
    return {}


def measured_cpu_precision(cpu, shapes=DEFAULT_SHAPES, probe=run_probe):
    """The measured choice for this CPU and these shapes: from the cache,
    else probed (and cached atomically).

    Args:
        cpu: str. The CPU model name.
        shapes: tuple. `(resolution, width)` pairs. Defaults to ResNet-50's.
        probe: callable. `probe(shapes) -> ProbeResult`. Defaults to
            `run_probe`.

    Returns:
        `(policy name, ProbeResult)`.
    """
    key = cache_key(cpu, shapes)
    entries = read_cache()
    entry = entries.get(key)
    if isinstance(entry, dict):
        try:
            result = ProbeResult(
                float(entry["float32_seconds"]),
                float(entry["bfloat16_seconds"]),
                tuple(map(tuple, entry["shapes"])),
            )
            return choose_cpu_precision(result), result
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            pass  # a damaged entry: probe again
    result = probe(shapes)
    entries[key] = {
        "float32_seconds": result.float32_seconds,
        "bfloat16_seconds": result.bfloat16_seconds,
        "speedup": result.speedup,
        "shapes": [list(s) for s in result.shapes],
        "choice": choose_cpu_precision(result),
    }
    try:
        write_json(cache_path(), entries)
    except OSError as error:
        warnings.warn(f"Could not cache the precision probe: {error}", stacklevel=2)
    return choose_cpu_precision(result), result


def _backend_version(backend):
    try:
        module = __import__({"tensorflow": "tensorflow", "jax": "jax"}[backend])
        return module.__version__
    except (KeyError, ImportError):
        return "?"
