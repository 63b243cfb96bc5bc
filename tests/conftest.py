"""Shared test helpers and the test tiers. Tests run under the TensorFlow
backend by default and again with KERAS_BACKEND=jax (the `jax` marker; see
docs/getting-started.md). `nox -s tests-fast` leaves out `slow` and `deep`."""

import contextlib
import http.server
import importlib.util
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _share_the_cores():
    """Under pytest-xdist, gives each worker's TensorFlow (and the child
    processes its tests start) its share of this machine's cores instead
    of thread pools as large as the machine: two workers on two cores, each
    with pools of two, lost ~5% of the suite's wall time to oversubscription
    (docs blocks ~15% per block; a 2-core Xeon). Set before TensorFlow
    starts; a variable already set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    cores = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1
    )
    share = str(max(1, cores // workers))
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, share)


_share_the_cores()
# precision="auto" probes this machine once per cache: keep the tests' own.
os.environ.setdefault(
    "KERAS_RESIDUAL_CACHE_DIR", tempfile.mkdtemp(prefix="keras-residual-cache-")
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_residual.data import load_digits_arrays  # noqa: E402
from keras_residual.models.zoo import build  # noqa: E402

# xdist groups whose tests run real processes or whole searches: slow.
SLOW_GROUPS = ("subprocess", "search")


def pytest_collection_modifyitems(config, items):
    """Marks as `slow` every test that runs real processes or searches (its
    xdist group says so) or builds a deep zoo model, beside the tests marked
    `slow` by hand, so that `-m "not slow"` selects the fast tier; then
    orders the longest work first (the real-process group, which runs on
    one worker, then the other slow tests), so that pytest-xdist's two
    workers end together instead of one finishing a long test alone."""
    for item in items:
        groups = [m.args[0] for m in item.iter_markers("xdist_group") if m.args]
        if item.get_closest_marker("deep") or set(groups) & set(SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)

    def priority(item):
        groups = {m.args[0] for m in item.iter_markers("xdist_group") if m.args}
        return (
            0
            if groups & set(SLOW_GROUPS)
            else 1
            if item.get_closest_marker("slow")
            else 2
        )

    items.sort(key=priority)  # stable: each file's order is kept within a tier


@pytest.fixture(autouse=True)
def _reset_policy():
    """Every test starts and ends in float32."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_images(n, size, channels=3, seed=0):
    return (
        np.random.default_rng(seed)
        .uniform(-1, 1, (n, size, size, channels))
        .astype("float32")
    )


def small_digits(train=64, test=64, validation=0):
    """The first `train` and `test` (and `validation`, when above 0)
    embedded digits of each split, as `train()`'s dict of arrays."""
    arrays = load_digits_arrays()
    sizes = {"train": train, "validation": validation, "test": test}
    return {
        split: tuple(a[:size] for a in arrays[split])
        for split, size in sizes.items()
        if size
    }


def small_classifier(classes=3, name="small", padding=0):
    """A tiny Sequential classifier of 16x16 grey images (conv, pool,
    softmax; `padding` > 0 puts a ZeroPadding2D first), for export tests."""
    import keras

    layers = [keras.Input((16, 16, 1))]
    if padding:
        layers.append(keras.layers.ZeroPadding2D(padding, name="pad"))
    layers += [
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name=name)


# One block per stage: the smallest network of a zoo model's shape.
TINY = {"depths": (1, 1, 1)}


def tiny_resnet(name="ResNet20", **overrides):
    """Zoo model `name` with one block per stage (`TINY`), untrained:
    32x32x1 inputs and 10 classes unless `overrides` say otherwise."""
    arguments = dict(input_shape=(32, 32, 1), classes=10, **TINY)
    return build(name, **{**arguments, **overrides})


def digits_resnet(**overrides):
    """`tiny_resnet()` for the embedded digits ("tf" preprocessing)."""
    return tiny_resnet(**{"preprocessing": "tf", **overrides})


def assert_trains_and_reloads(model, x, y, path):
    """One epoch of SGD on `(x, y)` that must change the trainable
    weights, then a `.keras` round trip at `path` (`safe_mode=True`) that
    must predict what the model predicts."""
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    changed = [
        not np.array_equal(old, keras.ops.convert_to_numpy(new))
        for old, new in zip(before, model.trainable_weights)
    ]
    assert any(changed), "training changed no trainable weight"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def free_port():
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subprocess_env(**extra):
    """The environment for a real child process: quiet TF, unbuffered
    output, plus `extra`."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", **extra)


def kill_when(process, ready=None, after=0.0, timeout=240, poll=0.2):
    """SIGKILLs a real child `process` once `ready()` is true (at once
    without it), `after` seconds later, and waits for it; fails if it
    ended by itself first (the kill would have tested nothing).

    Args:
        process: subprocess.Popen. The child.
        ready: callable or None. Polled every `poll` seconds until true,
            the child ends or `timeout` seconds pass. Defaults to `None`.
        after: float. Seconds to wait once ready. Defaults to `0.0`.
        timeout: float. Seconds to wait for `ready`. Defaults to `240`.
        poll: float. Seconds between polls. Defaults to `0.2`.
    """
    deadline = time.time() + timeout
    while ready is not None and time.time() < deadline and process.poll() is None:
        if ready():
            break
        time.sleep(poll)
    time.sleep(after)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the child ended before the kill"


def run_cli(*arguments, env=None, timeout=600):
    """`python -m keras_residual.cli ARGUMENTS` in a real child process
    (`env` defaults to `subprocess_env()`)."""
    return _run_child(["-m", "keras_residual.cli", *arguments], env, timeout)


def run_cli_here(*arguments):
    """`keras-residual ARGUMENTS` through the command's `main` in this
    process, its output captured, from Keras' start-up state: the result of
    `run_cli` without a child's ~7 s of imports, for tests of what a command
    does rather than of its process (tests/test_cli.py runs those).

    Returns:
        subprocess.CompletedProcess. `returncode`, `stdout` and `stderr`.
    """
    from tests.docs_blocks import cli_exit_code

    arguments = [str(argument) for argument in arguments]
    stdout, stderr = io.StringIO(), io.StringIO()
    keras.backend.clear_session()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli_exit_code(arguments)
    keras.backend.clear_session()
    return subprocess.CompletedProcess(
        arguments, code, stdout.getvalue(), stderr.getvalue()
    )


def load_example(name):
    """`examples/NAME.py` as a module, to call its `main` in this process
    (the docs run the examples as real processes)."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(path, name + ".py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(code, *arguments, env=None, timeout=600):
    """`python -c CODE ARGUMENTS` in a real child process, e.g. a fuzzer
    that must not take the test process down with it (`env` defaults to
    `subprocess_env()`)."""
    return _run_child(["-c", code, *arguments], env, timeout)


def run_python_file(path, *arguments, env=None, timeout=600, cwd=None):
    """`python PATH ARGUMENTS` in a real child process, in `cwd` (`env`
    defaults to `subprocess_env()`)."""
    return _run_child([path, *arguments], env, timeout, cwd)


def _run_child(arguments, env, timeout, cwd=None):
    return subprocess.run(
        [sys.executable, *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env or subprocess_env(),
    )


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/served on 127.0.0.1 and counts the requests."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {
        "root": root,
        "url": f"http://127.0.0.1:{httpd.server_port}/",
        "requests": requests,
    }
    httpd.shutdown()
    httpd.server_close()
