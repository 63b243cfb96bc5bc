"""Presets: `save_to_preset` writes a Hub-ready folder (safetensors,
config, a model card with Hugging Face front matter) that `load_preset`,
`weights=` and `create_model` read back with identical outputs; a bad or
mismatched preset is refused with nothing loaded; `push_to_hub` uploads a
fine-tuned run to a local Hub on 127.0.0.1 in one commit, survives an
upload killed half-way, and a commit id pins the repository."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

import keras_residual as kr
from keras_residual.cli import main
from keras_residual.hub.preset_format import load_variables
from keras_residual.weights.state_dict import read_safetensors
from keras_residual.weights.state_dict import write_safetensors
from tests.conftest import TINY
from tests.conftest import run_cli
from tests.conftest import run_cli_here
from tests.conftest import run_python
from tests.conftest import tiny_resnet
from tests.local_hub import hub_env
from tests.local_hub import start_hub
from tests.local_hub import stop_hub

NAMES = ["zero", "one", "two"]


def _model(seed=0):
    """A small ResNet20 whose BatchNorm statistics are not the defaults,
    so that a preset that dropped them would predict otherwise."""
    model = tiny_resnet(
        input_shape=(16, 16, 1), classes=3, preprocessing="tf", class_names=NAMES
    )
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "moving" in variable.path or "gamma" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
    return model


def _images(n=6):
    return np.random.default_rng(1).uniform(-1, 1, (n, 16, 16, 1)).astype("float32")


@pytest.mark.jax
def test_a_preset_round_trips_with_identical_outputs(tmp_path):
    model = _model()
    folder = kr.save_to_preset(model, tmp_path / "preset", license="apache-2.0")
    assert sorted(os.listdir(folder)) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    expected = model.predict(_images(), verbose=0)
    loaded = kr.load_preset(folder)
    np.testing.assert_array_equal(loaded.predict(_images(), verbose=0), expected)
    assert loaded.class_names == NAMES and loaded.preprocessing == "tf"
    assert loaded.name == model.name
    rebuilt = kr.build("ResNet20", weights=folder, **TINY)
    np.testing.assert_array_equal(rebuilt.predict(_images(), verbose=0), expected)
    assert tuple(rebuilt.input_shape) == (None, 16, 16, 1)
    # Every variable by its path, readable by any safetensors reader.
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert set(tensors) == {v.path for v in model.weights}
    np.testing.assert_array_equal(
        tensors["conv1_conv/kernel"], model.get_layer("conv1_conv").kernel.numpy()
    )


def test_the_safetensors_file_is_read_by_the_safetensors_library(tmp_path):
    """The writer's format checked by the reference reader, not ours."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {
        "a/kernel": np.arange(24, dtype="float32").reshape(2, 3, 4),
        "b": np.array([1, -2], dtype="int64"),
        "c": np.ones((0, 5), dtype="float16"),
    }
    write_safetensors(tmp_path / "x.safetensors", arrays, metadata={"k": "v"})
    read = safetensors_numpy.load_file(str(tmp_path / "x.safetensors"))
    assert set(read) == set(arrays)
    for name, array in arrays.items():
        assert read[name].dtype == array.dtype
        np.testing.assert_array_equal(read[name], array)


def test_the_card_has_hub_front_matter_and_the_run_metrics(tmp_path):
    """From a run directory: the card's YAML front matter (what the Hub
    reads) and table carry the run's metrics and dataset, never a local
    path."""
    run = tmp_path / "run"
    run.mkdir()
    _model().save(run / "model.keras")
    metrics = {
        "model": "ResNet20",
        "dataset": str(tmp_path / "my_images"),
        "test_accuracy": 0.8125,
        "test_loss": 0.5,
        "epochs": 7,
        "recipe": "finetune",
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    folder = kr.save_to_preset(str(run), tmp_path / "preset", repo_id="me/digits")
    card = open(os.path.join(folder, "README.md")).read()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "keras-residual"
    assert front["license"] == "other"
    assert "ResNet20" in front["tags"]
    assert front["model-index"][0]["results"][0]["metrics"][0] == {
        "type": "accuracy",
        "value": 0.8125,
    }
    assert front["model-index"][0]["results"][0]["dataset"]["name"] == "my_images"
    assert str(tmp_path) not in card
    assert 'kr.load_preset("hf://me/digits")' in card
    assert "| Classes | 3 |" in card and "zero, one, two" in card
    config = json.load(open(os.path.join(folder, "config.json")))
    assert config["architecture"] == "ResNet20"
    assert config["metrics"]["epochs"] == 7
    assert config["label_names"] == NAMES
    assert config["pretrained_cfg"]["mean"] == [0.5, 0.5, 0.5]


def _edit_config(folder, **changes):
    path = os.path.join(folder, "config.json")
    config = json.load(open(path))
    config.update(changes)
    with open(path, "w") as handle:
        json.dump(config, handle)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"library_name": "timm"}, "not a keras_residual preset"),
        ({"format_version": 99}, "format_version 99"),
        ({"model": {"class_name": "Sequential", "config": {}}}, "no ResidualModel"),
        (
            {"model": {"class_name": "ResidualModel", "config": {"spec": 3}}},
            "cannot be built",
        ),
    ],
)
def test_a_foreign_or_future_config_is_refused(tmp_path, change, message):
    folder = kr.save_to_preset(_model(), tmp_path / "preset")
    _edit_config(folder, **change)
    with pytest.raises(ValueError, match=message):
        kr.load_preset(folder)


def test_weights_that_do_not_fit_are_refused_and_nothing_is_loaded(tmp_path):
    folder = kr.save_to_preset(_model(), tmp_path / "preset")
    weights = os.path.join(folder, "model.safetensors")
    tensors = read_safetensors(weights)
    target = _model(seed=5)
    before = [v.numpy().copy() for v in target.weights]

    def refused(tensors, message):
        write_safetensors(weights, tensors)
        with pytest.raises(ValueError, match=message):
            load_variables(target, weights, folder)
        for variable, value in zip(target.weights, before):
            np.testing.assert_array_equal(variable.numpy(), value)

    wrong = dict(tensors, **{"predictions/kernel": np.zeros((64, 4), "float32")})
    refused(wrong, r"'predictions/kernel' has shape \[64, 4\]")
    missing = {k: v for k, v in tensors.items() if k != "conv1_bn/moving_mean"}
    refused(missing, "missing .'conv1_bn/moving_mean'.")
    refused(dict(tensors, extra=np.zeros(2, "float32")), "unexpected .'extra'.")
    with open(weights, "r+b") as handle:  # truncated
        handle.truncate(os.path.getsize(weights) - 10)
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        kr.load_preset(folder)


def test_a_local_presets_card_loads_it_from_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = kr.save_to_preset(_model(), os.path.join("presets", "digits"))
    card = open(os.path.join(folder, "README.md")).read()
    usage = 'model = kr.load_preset("' + os.path.join("presets", "digits") + '")'
    assert usage in card and "hf://" not in card
    assert kr.load_preset(os.path.join("presets", "digits")).count_params() > 0


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_the_preset_command_writes_a_folder_and_refuses_bad_input(tmp_path, capsys):
    source = tmp_path / "model.keras"
    _model().save(source)
    done = run_cli_here("preset", source, "--out", tmp_path / "p", "--license", "mit")
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'license: "mit"' in open(tmp_path / "p" / "README.md").read()
    # The refusals in this process (the one-line error path is the same
    # `main`; tests/test_cli.py runs it in real processes).
    capsys.readouterr()
    assert main(["preset", str(source), "--out", str(tmp_path / "p")]) == 2
    again = capsys.readouterr().err
    assert "already exists" in again and "Traceback" not in again
    assert len(again.strip().splitlines()) == 1, again
    assert main(["push", str(tmp_path / "p"), "not a repo"]) == 2
    assert "`repo_id` must be 'ORG/NAME'" in capsys.readouterr().err


LOAD_BACK = """
import json, sys
import numpy as np
import keras_residual as kr
images = np.load(sys.argv[1])
out = {}
for hub_id in sys.argv[2:]:
    model = kr.create_model(hub_id, pretrained=True)
    same = kr.load_preset(hub_id)
    untrained = kr.create_model(hub_id)  # the architecture only
    out[hub_id] = {
        "untrained": [untrained.count_params(), list(untrained.input_shape)],
        "trained": [model.count_params(), list(model.input_shape)],
        "predictions": model.predict(images, verbose=0).tolist(),
        "again": same.predict(images, verbose=0).tolist(),
        "class_names": model.class_names,
    }
print(json.dumps(out))
"""


@pytest.mark.slow  # real processes and a fine-tuning run
def test_a_fine_tuned_run_is_pushed_and_loaded_back_by_id(tmp_path):
    """Fine-tune the shipped digits weights on three classes, push the run
    with the CLI (killed during its weights upload: nothing is committed;
    run again: one commit), push another model over it, and load both back
    in a fresh process: by id (the newest) and by the first commit id."""
    from keras_residual.data.digits import load_digits_arrays

    splits = {}
    for split, (images, labels) in load_digits_arrays().items():
        keep = labels < 3
        splits[split] = (images[keep][:60], labels[keep][:60])
    run = kr.train(
        "ResNet20",
        splits,
        str(tmp_path / "run"),
        weights="digits",
        epochs=2,
        batch_size=16,
        recipe_overrides={"head_epochs": 1},
        precision="float32",
        verbose=0,
    )
    test_images = splits["test"][0][:8].astype("float32")
    np.save(tmp_path / "images.npy", test_images)
    expected = run.model.predict(test_images, verbose=0)
    hub = start_hub()
    try:
        env = hub_env(hub, tmp_path / "hf", HF_TOKEN="local-test-token")
        pusher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keras_residual.cli",
                "push",
                run.run_dir,
                "me/digits3",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def interrupt(oid):
            os.kill(pusher.pid, signal.SIGKILL)
            return False  # the connection drops; nothing is stored

        hub.on_put = interrupt
        pusher.communicate(timeout=300)
        assert pusher.returncode == -signal.SIGKILL
        assert hub.commits_made == [] and hub.tree("me/digits3") is None
        hub.on_put = None
        pushed = run_cli("push", run.run_dir, "me/digits3", env=env, timeout=300)
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        first = pushed.stdout.strip().splitlines()[-1]
        assert first == f"hf://me/digits3@{hub.commits_made[0][1]}"
        assert sorted(hub.tree("me/digits3")) == [
            "README.md",
            "config.json",
            "model.safetensors",
        ]
        # The repository changes: another model pushed over it.
        other = kr.ResNet20(input_shape=(32, 32, 1), classes=3, preprocessing="tf")
        preset = kr.save_to_preset(other, tmp_path / "other")
        second = run_cli("push", preset, "me/digits3", env=env, timeout=300)
        assert second.returncode == 0, second.stderr[-3000:]
        assert len(hub.commits_made) == 2
        images = tmp_path / "images.npy"
        loaded = run_python(
            LOAD_BACK, images, first, "hf://me/digits3", env=env, timeout=300
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        result = json.loads(loaded.stdout.strip().splitlines()[-1])
    finally:
        stop_hub(hub)
    pinned, newest = result[first], result["hf://me/digits3"]
    np.testing.assert_allclose(pinned["predictions"], expected, atol=1e-6)
    np.testing.assert_allclose(pinned["again"], expected, atol=1e-6)
    assert pinned["class_names"] == list(run.model.class_names)
    assert pinned["untrained"] == pinned["trained"]
    np.testing.assert_allclose(
        newest["predictions"], other.predict(test_images, verbose=0), atol=1e-6
    )
