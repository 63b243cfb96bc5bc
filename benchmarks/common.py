"""Shared benchmark helpers: hardware description, timing, result files."""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

RESULTS_ENV = "BENCHMARK_RESULTS_DIR"
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def hardware():
    """Describes the machine and the software stack the figures came from."""
    import keras

    from keras_residual.training.precision import cpu_name

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

        from keras_residual.utils.kernel_library import onednn_enabled

        info["tensorflow"] = tf.__version__
        info["onednn"] = onednn_enabled()
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


def step_clock():
    """A Keras callback that records each training step's wall time; its
    `median_step()` leaves `fit`'s start-up out of the figure."""
    import keras
    import numpy as np

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.durations, self._started = [], None

        def on_train_batch_begin(self, batch, logs=None):
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.durations.append(time.perf_counter() - self._started)

        def median_step(self):
            return float(np.median(self.durations))

    return StepClock()


def alternating_training_rates(contenders, data, batch, rounds, steps):
    """Images/s of each compiled model in `contenders` (`{label: model}`):
    two warm-up steps each, then `rounds` rounds in which every model runs
    `steps` steps in turn; a round's figure is its median step."""
    for model in contenders.values():  # trace, compile and warm up
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    samples = {label: [] for label in contenders}
    for _ in range(rounds):
        for label, model in contenders.items():
            clock = step_clock()
            model.fit(
                data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock]
            )
            samples[label].append(batch / clock.median_step())
    return {label: summarize(values) for label, values in samples.items()}


def current_rss_mb():
    """This process's resident memory in MB (Linux)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status")


def child_json(module, *arguments, environ=None):
    """Runs `python -m module *arguments` in a fresh process (so that its
    memory and graphs start clean), with `environ` added to this process's
    environment, and returns the JSON object it printed on its last line of
    output."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(environ or {}))
    output = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def synthetic_batch(case):
    """One fixed batch `(images, labels)` of `case` (`batch`, `size`,
    `channels`, `classes`), as NumPy arrays."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(
        -1, 1, (case["batch"], case["size"], case["size"], case["channels"])
    ).astype("float32")
    y = rng.integers(0, case["classes"], case["batch"]).astype("int32")
    return x, y


def synthetic_dataset(case):
    """`synthetic_batch(case)`, repeated: the model alone is timed."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(synthetic_batch(case)).repeat()


def imagenet_arrays(count, size, seed=0):
    """`count` random RGB images of `size` px in [0, 1) and random labels of
    1,000 classes, as NumPy arrays (float32, int64)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.random((count, size, size, 3), dtype=np.float32)
    return images, rng.integers(0, 1000, count)


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def results_folder(smoke=False):
    """Where result files (JSON and plots) go: `$BENCHMARK_RESULTS_DIR` when
    set, else `benchmarks/results/`. A smoke run never lands in
    `benchmarks/results/`: without the variable it goes to a temporary
    folder."""
    folder = os.environ.get(RESULTS_ENV)
    if folder is not None:
        return folder
    return (
        os.path.join(tempfile.gettempdir(), "benchmarks-smoke")
        if smoke
        else RESULTS_DIR
    )


def write_result(name, payload, smoke=False):
    """Writes `payload` to `{name}.json` in `results_folder(smoke)`,
    atomically."""
    from keras_residual.utils.atomic import write_json

    path = os.path.join(results_folder(smoke), f"{name}.json")
    write_json(path, dict(payload, smoke=smoke))
    return path


def ratio(value, digits=2):
    """Formats a ratio for the benchmark table."""
    return "n/a" if value is None else f"{value:.{digits}f}×"


def peer_training_args(argv, description, models, batch, steps, smoke_models):
    """Parses the arguments shared by the build-and-train peer benchmarks.

    Args:
        argv: list or None. Command-line arguments. Defaults to `sys.argv`.
        description: str. The benchmark's one-line description.
        models: str. Comma-separated model names measured by default.
        batch: int. Default batch size.
        steps: int. Default timed steps per round.
        smoke_models: str. Models measured with `--smoke` (32 px, batch 2,
            one step, one round, one build).

    Returns:
        The parsed `argparse.Namespace`, with `--smoke` applied.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", default=models)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument(
        "--steps", type=int, default=steps, help="Timed steps per round."
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build-runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch, args.steps, args.rounds, args.build_runs = 32, 2, 1, 1, 1
        args.models = smoke_models
    return args


def epoch_test_accuracy(test_data):
    """A Keras callback that evaluates `test_data` after each epoch, off
    the clock: its `curve` holds `(epoch, training seconds, test accuracy)`
    rows; the seconds leave out those test passes."""
    import keras

    class TestAccuracy(keras.callbacks.Callback):
        """Evaluates the test split after each epoch, off the clock."""

        def __init__(self):
            super().__init__()
            self.curve, self.excluded, self.started = [], 0.0, None

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            begin = time.perf_counter()
            elapsed = begin - self.started - self.excluded
            result = self.model.evaluate(test_data, verbose=0, return_dict=True)
            self.excluded += time.perf_counter() - begin
            self.curve.append((epoch + 1, elapsed, result["accuracy"]))

    return TestAccuracy()


SLICE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "tests",
    "data",
    "fashion_mnist",
)


def fashion_mnist_splits(train_size=None, seed=0, data_dir=None, smoke=False):
    """Fashion-MNIST as `train()`'s dict of arrays: `train_size` images drawn
    (with `seed`) from the 60,000 training images, all of them when None,
    and the 10,000 test images. `train()` holds 10% of the training images
    out for validation. A smoke run reads the committed slice of the real
    files (400 training and 100 test images) instead, so that it needs
    neither Debian's package nor TFDS.

    Args:
        train_size: int or None. Training images to draw. Defaults to all.
        seed: int. The draw's seed. Defaults to `0`.
        data_dir: str or None. TFDS data directory. Defaults to TFDS's.
        smoke: bool. Read the committed slice. Defaults to `False`.
    """
    import gzip

    import numpy as np

    if smoke:
        arrays = {}
        for split, prefix in (("train", "train"), ("test", "t10k")):
            path = os.path.join(SLICE_DIR, f"{prefix}-images-idx3-ubyte.gz")
            with gzip.open(path) as handle:
                images = np.frombuffer(handle.read()[16:], np.uint8)
            path = os.path.join(SLICE_DIR, f"{prefix}-labels-idx1-ubyte.gz")
            with gzip.open(path) as handle:
                labels = np.frombuffer(handle.read()[8:], np.uint8).astype("int32")
            arrays[split] = (images.reshape(-1, 28, 28, 1), labels)
    else:
        from keras_residual.data import fashion_mnist

        arrays = fashion_mnist.load_arrays(data_dir)
    if train_size is not None:
        images, labels = arrays["train"]
        chosen = np.random.default_rng(seed).permutation(len(labels))[:train_size]
        arrays["train"] = (images[chosen], labels[chosen])
    return arrays
