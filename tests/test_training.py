"""train() and `keras-residual train`: run directory, resume, divergence,
bad input. The kill-and-resume and distributed tests use real processes."""

import csv
import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual import cli
from keras_residual.training import TrainingDiverged
from tests.conftest import TINY
from tests.conftest import free_port
from tests.conftest import kill_when
from tests.conftest import small_digits
from tests.conftest import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "tiny")
    result = kr.train(
        "ResNet20",
        "digits",
        out,
        epochs=2,
        precision="float32",
        verbose=0,
        model_overrides=TINY,
    )
    return result


def _history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.xdist_group("train_tiny")
def test_run_directory_holds_every_artifact(run):
    files = set(os.listdir(run.run_dir))
    assert {
        "run.json",
        "history.csv",
        "metrics.json",
        "curves.png",
        "model.keras",
        "saved_model",
        "checkpoints",
        "logs",
    } <= files
    metrics = json.load(open(os.path.join(run.run_dir, "metrics.json")))
    assert metrics["params"] == run.model.count_params()
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["images_per_second"] > 0 and metrics["wall_seconds"] > 0
    assert metrics["epochs_completed"] == 2 and metrics["test_images"] == 359
    # Every run.json setting (each an option field's) is in metrics.json too.
    settings = json.load(open(os.path.join(run.run_dir, "run.json")))
    settings = settings.get("settings", settings)
    assert {"seed", "weights", "recipe_overrides", "model_overrides"} <= set(settings)
    assert set(settings) <= set(metrics)
    resolved = ("augmentation", "classes")  # metrics.json has the data's own
    assert {key: metrics[key] for key in settings if key not in resolved} == {
        key: value for key, value in settings.items() if key not in resolved
    }
    assert [row["epoch"] for row in _history(run.run_dir)] == ["1", "2"]
    # The learning rate of each epoch's end: the `fast` recipe warms up for
    # one epoch, then its cosine decays to nearly 0 by the last.
    rates = [float(row["learning_rate"]) for row in _history(run.run_dir)]
    assert rates[0] > 0.01 and rates[1] < rates[0] / 10
    with open(os.path.join(run.run_dir, "curves.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(run.run_dir, "checkpoints", "best.keras"))


@pytest.mark.xdist_group("train_tiny")
def test_saved_model_and_keras_file_reproduce_the_model(run):
    import tensorflow as tf

    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    expected = run.model.predict(images, verbose=0)
    served = tf.saved_model.load(os.path.join(run.run_dir, "saved_model"))
    outputs = served.signatures["serve_preprocessed"](inputs=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    reloaded = keras.saving.load_model(
        os.path.join(run.run_dir, "model.keras"), safe_mode=True
    )
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, atol=1e-5)


def test_a_trained_model_records_its_pipelines_preprocessing(run):
    """train() records the mode load_data scaled its images with, so that
    `export(preprocessing="auto")` and `predict` use it later."""
    reloaded = keras.saving.load_model(
        os.path.join(run.run_dir, "model.keras"), safe_mode=True
    )
    assert run.model.preprocessing == reloaded.preprocessing == "tf"
    assert run.metrics["preprocessing"] == "tf"


@pytest.mark.xdist_group("train_tiny")
def test_existing_runs_are_protected_and_resume_checks_settings(run):
    with pytest.raises(ValueError, match=r"already holds a run.*--resume"):
        kr.train(
            "ResNet20", "digits", run.run_dir, epochs=2, model_overrides=TINY, verbose=0
        )
    with pytest.raises(ValueError, match=r"different settings.*epochs: 2 -> 3"):
        kr.train(
            "ResNet20",
            "digits",
            run.run_dir,
            epochs=3,
            resume=True,
            model_overrides=TINY,
            verbose=0,
        )
    again = kr.train(
        "ResNet20",
        "digits",
        run.run_dir,
        epochs=2,
        resume=True,
        precision="float32",
        model_overrides=TINY,
        verbose=0,
        export=False,
    )
    assert again.metrics["resumed_from_epoch"] == 2
    assert len(_history(run.run_dir)) == 2


def test_a_mixed_precision_run_exports_float32_and_gives_the_policy_back(tmp_path):
    """The run's bfloat16 policy stays in its model: the caller's global
    policy comes back, and the SavedModel written inside the run computes
    in float32 (a folded BatchNorm must not inherit the run's policy)."""
    result = kr.train(
        "ResNet20",
        small_digits(),
        str(tmp_path / "mixed"),
        epochs=1,
        batch_size=32,
        precision="mixed_bfloat16",
        verbose=0,
        model_overrides=TINY,
    )
    assert keras.config.dtype_policy().name == "float32"
    assert result.model.get_layer("conv2_block1_1_conv").compute_dtype == "bfloat16"
    reference = kr.build("ResNet20", input_shape=(32, 32, 1), classes=10, **TINY)
    reference.set_weights(result.model.get_weights())
    inputs = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    served = tf.saved_model.load(os.path.join(result.run_dir, "saved_model"))
    outputs = served.signatures["serve_preprocessed"](inputs=tf.constant(inputs))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(),
        reference.predict(inputs, verbose=0),
        atol=1e-5,
    )


def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_state(tmp_path):
    class Poison(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                kernel = self.model.get_layer("predictions").kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    out = str(tmp_path / "nan")
    with pytest.raises(TrainingDiverged) as error:
        kr.train(
            "ResNet20",
            "digits",
            out,
            epochs=3,
            precision="float32",
            verbose=0,
            model_overrides=TINY,
            callbacks=[Poison()],
        )
    message = str(error.value)
    assert "non-finite at epoch 2" in message
    assert "last good checkpoint (epoch 1)" in message
    state = json.load(open(os.path.join(out, "checkpoints", "state.json")))
    assert state["epoch"] == 1
    model = kr.build("ResNet20", input_shape=(32, 32, 1), classes=10, **TINY)
    model.load_weights(os.path.join(out, "checkpoints", state["weights"]))
    assert all(np.isfinite(np.array(w)).all() for w in model.weights)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mnsit"], "Unknown `dataset` 'mnsit'"),
        (["--classes", "5"], "Labels out of range"),
        (["--model", "ResNet50", "--image-size", "16"], "at least 32"),
        (["--model", "ResNet2O"], "'ResNet20'"),
        (["--recipe", "fats"], "'fast'"),
    ],
)
def test_cli_bad_input_exits_2_with_a_specific_message(tmp_path, capsys, argv, message):
    code = cli.main(["train", "--out", str(tmp_path / "bad"), "--epochs", "1", *argv])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "bad" / "run.json")


def _cli(*args):
    return [sys.executable, "-m", "keras_residual.cli", "train", *args]


def _state(out):
    try:
        with open(os.path.join(out, "checkpoints", "state.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _checkpoint_arrays(out, epoch):
    """Every array (model and optimizer) of a run's epoch checkpoint."""
    return _weights(os.path.join(out, "checkpoints", f"epoch-{epoch:04d}.weights.h5"))


@pytest.mark.xdist_group("subprocess")
def test_sigkill_mid_epoch_then_resume_ends_bitwise_as_an_uninterrupted_run(
    tmp_path,
):
    def command(out):
        return _cli(
            *("--model", "ResNet20", "--depths", "1,1,1", "--epochs", "3"),
            *("--out", out),
            *("--precision", "float32", "--verbose", "2", "--no-export"),
            "--deterministic",
        )

    reference = str(tmp_path / "uninterrupted")
    done = subprocess.run(
        command(reference),
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = str(tmp_path / "killed")
    process = subprocess.Popen(
        command(out),
        env=subprocess_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # Killed inside the second epoch (~1.5 s here, at 20 steps).
    kill_when(process, lambda: (_state(out) or {}).get("epoch", 0) >= 1, after=0.5)
    killed_at = _state(out)["epoch"]
    assert 1 <= killed_at < 3

    resumed = subprocess.run(
        command(out) + ["--resume"],
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"{killed_at} epoch(s) already completed" in resumed.stdout
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["resumed_from_epoch"] == killed_at
    assert metrics["epochs_completed"] == 3
    assert [row["epoch"] for row in _history(out)] == ["1", "2", "3"]
    assert [
        name for name in os.listdir(os.path.join(out, "checkpoints")) if ".tmp" in name
    ] == []
    # Exact resume: the same weights and optimizer state, bit for bit, and
    # the same losses epoch by epoch.
    expected, got = _checkpoint_arrays(reference, 3), _checkpoint_arrays(out, 3)
    assert sorted(got) == sorted(expected) and len(got) > 30
    unequal = [
        name for name in expected if not np.array_equal(got[name], expected[name])
    ]
    assert unequal == []
    assert [row["loss"] for row in _history(out)] == [
        row["loss"] for row in _history(reference)
    ]


SAVE_LOOP = """
import sys
import keras_residual as kr
from keras_residual.training.callbacks import ResumableBackup
model = kr.build("ResNet20", input_shape=(32, 32, 1), classes=10)
backup = ResumableBackup(sys.argv[1])
backup.set_model(model)
for epoch in range(1, 100000):
    backup.rows.append({"epoch": epoch})
    backup._save(epoch)
    print(epoch, flush=True)
"""


@pytest.mark.xdist_group("subprocess")
def test_checkpoints_are_never_half_written_under_sigkill(tmp_path):
    directory = str(tmp_path / "state")
    model = kr.build("ResNet20", input_shape=(32, 32, 1), classes=10)
    for delay in (0.05, 0.13, 0.31):
        process = subprocess.Popen(
            [sys.executable, "-c", SAVE_LOOP, directory],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip()  # one save completed
        kill_when(process, after=delay)
        with open(os.path.join(directory, "state.json")) as handle:
            state = json.load(handle)
        assert len(state["history"]) >= state["epoch"] - 1
        model.load_weights(os.path.join(directory, state["weights"]))
        with h5py.File(os.path.join(directory, state["weights"])) as weights:
            assert "layers" in weights


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_residual import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.xdist_group("subprocess")
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    out = str(tmp_path / "mirrored")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MIRRORED,
            "train",
            "--depths",
            "1,1,1",
            "--epochs",
            "1",
            "--out",
            out,
            "--distribute",
            "mirrored",
            "--verbose",
            "0",
            "--no-export",
            "--batch-size",
            "32",
        ],
        env=subprocess_env(KERAS_BACKEND="tensorflow"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["distribute"] == "mirrored" and metrics["replicas"] == 2
    assert np.isfinite(float(_history(out)[0]["loss"]))


def _weights(path):
    arrays = {}
    with h5py.File(path) as handle:
        handle.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()])
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return arrays


@pytest.mark.xdist_group("subprocess")
def test_jax_data_parallel_two_processes_end_with_weights_in_sync(tmp_path):
    out = str(tmp_path / "jax")
    address = f"127.0.0.1:{free_port()}"
    processes = [
        subprocess.Popen(
            _cli(
                "--depths",
                "1,1,1",
                "--epochs",
                "1",
                "--out",
                out,
                "--distribute",
                "data_parallel",
                "--num-processes",
                "2",
                "--process-id",
                str(rank),
                "--coordinator-address",
                address,
                "--verbose",
                "0",
                "--no-export",
                "--batch-size",
                "64",
            ),
            env=subprocess_env(KERAS_BACKEND="jax"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=400)[0] for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief = json.load(open(os.path.join(out, "metrics.json")))
    worker = json.load(open(os.path.join(out, "process-1", "metrics.json")))
    assert chief["processes"] == worker["processes"] == 2
    assert chief["test_accuracy"] == worker["test_accuracy"]
    weights = [
        _weights(os.path.join(directory, "checkpoints", "epoch-0001.weights.h5"))
        for directory in (out, os.path.join(out, "process-1"))
    ]
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) > 20
    for name, value in weights[0].items():
        # In sync up to the summation order of the CPU all-reduce, which can
        # follow arrival order under load (replicas that trained apart on
        # different shards differ by orders of magnitude more).
        np.testing.assert_allclose(value, weights[1][name], atol=1e-3, err_msg=name)
