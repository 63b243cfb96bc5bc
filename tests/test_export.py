"""export(), the serving signatures, TFLite, model cards, atomic writes, and
`keras-residual export / predict / evaluate`.

Expected values come from the Keras model itself (`model.predict`) and from
numpy or keras.applications preprocessing, never from the export under test.
"""

import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual import cli
from keras_residual.serving.bn_folding import fold_batch_norm
from keras_residual.serving.export import float32_model
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.signatures import preprocess_uint8
from tests.conftest import TINY
from tests.conftest import kill_when
from tests.conftest import subprocess_env
from tests.conftest import tiny_resnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tiny_model(**kwargs):
    """A tiny ResNet20 that records "tf" preprocessing, as train() would."""
    return kr.ResNet20(
        input_shape=(32, 32, 1), classes=10, preprocessing="tf", **TINY, **kwargs
    )


def _uint8(n, height=32, width=32, channels=1, seed=0):
    return (
        np.random.default_rng(seed)
        .integers(0, 256, (n, height, width, channels))
        .astype("uint8")
    )


@pytest.fixture(scope="module")
def model():
    return _tiny_model()


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("export") / "resnet20")
    kr.export(
        model,
        path,
        class_names=list("abcdefghij"),
        top_k=3,
        metrics={"test_accuracy": 0.5},
    )
    return path


def test_saved_model_signatures_match_predict_within_1e5(model, saved_model):
    images = _uint8(5)
    expected = model.predict(images.astype("float32") / 127.5 - 1.0, verbose=0)
    loaded = tf.saved_model.load(saved_model)
    assert {"serve", "serving_default", "serve_preprocessed"} <= set(loaded.signatures)
    for name in ("serve", "serving_default"):
        outputs = loaded.signatures[name](images=tf.constant(images))
        assert set(outputs) == {"probabilities", "top_k_classes", "top_k_scores"}
        assert outputs["probabilities"].dtype == tf.float32
        assert outputs["top_k_classes"].dtype == tf.int32
        np.testing.assert_allclose(
            outputs["probabilities"].numpy(), expected, atol=1e-5
        )
        np.testing.assert_array_equal(
            outputs["top_k_classes"].numpy(), np.argsort(-expected, axis=1)[:, :3]
        )
    preprocessed = loaded.signatures["serve_preprocessed"](
        inputs=tf.constant(images.astype("float32") / 127.5 - 1.0)
    )
    np.testing.assert_allclose(
        preprocessed["probabilities"].numpy(), expected, atol=1e-5
    )


def test_tfsm_layer_and_keras_file_match_predict_within_1e5(
    model, saved_model, tmp_path
):
    inputs = np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    expected = model.predict(inputs, verbose=0)
    layer = keras.layers.TFSMLayer(saved_model, call_endpoint="serve_preprocessed")
    np.testing.assert_allclose(
        np.asarray(layer(inputs)["probabilities"]), expected, atol=1e-5
    )
    path = kr.export(model, str(tmp_path / "model.keras"), format="keras")
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), expected, atol=1e-5)
    assert json.load(open(path + ".model_card.json"))["format"] == "keras"


def test_any_image_size_is_resized_inside_the_signature(model, saved_model):
    images = _uint8(2, height=45, width=70, seed=2)
    resized = keras.ops.image.resize(images.astype("float32"), (32, 32))
    expected = model.predict(np.asarray(resized) / 127.5 - 1.0, verbose=0)
    outputs = tf.saved_model.load(saved_model).signatures["serve"](
        images=tf.constant(images)
    )
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_embedded_preprocessing_equals_keras_applications(mode):
    images = _uint8(2, 16, 16, 3, seed=3)
    expected = keras.applications.imagenet_utils.preprocess_input(
        images.astype("float32"), mode=mode
    )
    actual = preprocess_uint8(tf.constant(images), mode, (16, 16)).numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.slow  # a real process
def test_saved_model_cli_lists_the_signatures(saved_model):
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", saved_model, "--all"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for text in (
        "signature_def['serving_default']",
        "signature_def['serve']",
        "signature_def['serve_preprocessed']",
        "inputs['images']",
        "outputs['probabilities']",
        "dtype: DT_UINT8",
    ):
        assert text in shown.stdout


def test_model_card_describes_the_export(model, saved_model):
    card = json.load(open(os.path.join(saved_model, "model_card.json")))
    assert card["parameters"] == model.count_params()
    assert card["input_shape"] == [32, 32, 1] and card["classes"] == 10
    assert card["class_names"] == list("abcdefghij") and card["top_k"] == 3
    assert card["preprocessing"]["mode"] == "tf"
    assert card["metrics"] == {"test_accuracy": 0.5}
    assert card["versions"]["keras"] == keras.__version__
    assert card["versions"]["tensorflow"] == tf.__version__
    rebuilt = kr.build(card["architecture"], input_shape=(32, 32, 1), classes=10)
    assert rebuilt.count_params() == model.count_params()


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_mixed_precision_exports_float32_and_converts_to_tflite(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    mixed = _tiny_model()
    keras.config.set_dtype_policy("float32")
    assert mixed.layers[2].compute_dtype == "bfloat16"
    copy = float32_model(mixed)
    assert all(layer.compute_dtype == "float32" for layer in copy.layers)
    for kept, copied in zip(mixed.weights, copy.weights):
        np.testing.assert_array_equal(np.asarray(kept), np.asarray(copied))
    images = _uint8(3, seed=4)
    inputs = images.astype("float32") / 127.5 - 1.0
    reference = copy.predict(inputs, verbose=0)
    path = kr.export(mixed, str(tmp_path / "mixed.tflite"), format="tflite")
    lite = load_predictor(path)
    np.testing.assert_allclose(lite.predict_images(images), reference, atol=1e-5)
    np.testing.assert_allclose(
        lite.predict_images(images), mixed.predict(inputs, verbose=0), atol=2e-2
    )
    saved = kr.export(mixed, str(tmp_path / "mixed_sm"))
    outputs = tf.saved_model.load(saved).signatures["serving_default"](
        images=tf.constant(images)
    )
    assert outputs["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(outputs["probabilities"].numpy(), reference, atol=1e-5)
    card = json.load(open(path + ".model_card.json"))
    assert card["precision"] == {"trained": "mixed_bfloat16", "exported": "float32"}


def test_tflite_matches_predict_within_1e5_at_any_size(model, tmp_path):
    path = kr.export(model, str(tmp_path / "m.tflite"), format="tflite")
    lite = load_predictor(path)
    images = _uint8(3, seed=5)
    expected = model.predict(images.astype("float32") / 127.5 - 1.0, verbose=0)
    np.testing.assert_allclose(lite.predict_images(images), expected, atol=1e-5)
    larger = _uint8(1, 40, 36, seed=6)
    resized = keras.ops.image.resize(larger.astype("float32"), (32, 32))
    np.testing.assert_allclose(
        lite.predict_images(larger),
        model.predict(np.asarray(resized) / 127.5 - 1.0, verbose=0),
        atol=1e-5,
    )
    # A client that knows nothing of signatures gets serving_default: the
    # first subgraph, uint8 images in (the converter would put
    # serve_preprocessed first).
    interpreter = tf.lite.Interpreter(model_path=path)
    assert list(interpreter.get_signature_list()) == [
        "serving_default",
        "serve_preprocessed",
    ]
    (details,) = interpreter.get_input_details()
    assert details["dtype"] == np.uint8 and details["name"].endswith("images:0")
    interpreter.resize_tensor_input(details["index"], (1, 32, 32, 1))
    interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], images[:1])
    interpreter.invoke()
    outputs = {d["name"]: d for d in interpreter.get_output_details()}
    probabilities = [d for d in outputs.values() if tuple(d["shape"]) == (1, 10)]
    np.testing.assert_allclose(
        interpreter.get_tensor(probabilities[0]["index"]), expected[:1], atol=1e-5
    )


def test_versioned_saved_models_use_the_tf_serving_layout(model, tmp_path):
    base = str(tmp_path / "resnet20")
    first = kr.export(model, base, version=1)
    assert first == os.path.join(base, "1")
    assert os.path.isfile(os.path.join(base, "1", "saved_model.pb"))
    assert os.path.isfile(os.path.join(base, "1", "model_card.json"))
    other = _tiny_model()  # another random initialization
    kr.export(other, base, version=2)
    assert sorted(os.listdir(base)) == ["1", "2"]
    inputs = _uint8(2, seed=7)
    expected = other.predict(inputs.astype("float32") / 127.5 - 1.0, verbose=0)
    first_model = model.predict(inputs.astype("float32") / 127.5 - 1.0, verbose=0)
    assert np.abs(expected - first_model).max() > 1e-3
    # load_predictor serves the latest version, as TF Serving does.
    np.testing.assert_allclose(
        load_predictor(base).predict_images(inputs), expected, atol=1e-5
    )
    with pytest.raises(ValueError, match=r"already exists"):
        kr.export(model, base, version=1)
    with pytest.raises(ValueError, match=r"`version=3`.*format='tflite'"):
        kr.export(model, str(tmp_path / "m.tflite"), "tflite", version=3)
    with pytest.raises(ValueError, match=r"`version`.*0"):
        kr.export(model, base, version=0)
    with pytest.raises(TypeError, match=r"`version` must be an integer"):
        kr.export(model, base, version="2")
    assert sorted(os.listdir(base)) == ["1", "2"]


def test_existing_destination_needs_overwrite_and_files_are_refused(model, tmp_path):
    path = str(tmp_path / "sm")
    kr.export(model, path)
    stamp = os.path.getmtime(os.path.join(path, "saved_model.pb"))
    with pytest.raises(ValueError, match=r"already exists.*overwrite=True"):
        kr.export(model, path)
    time.sleep(0.01)
    kr.export(model, path, overwrite=True)
    assert os.path.getmtime(os.path.join(path, "saved_model.pb")) > stamp
    open(tmp_path / "a_file", "w").close()
    with pytest.raises(ValueError, match=r"is a file; a SavedModel is a directory"):
        kr.export(model, str(tmp_path / "a_file"))
    with pytest.raises(ValueError, match=r"is a directory; format='keras'"):
        kr.export(model, path, format="keras", overwrite=True)
    with pytest.raises(ValueError, match=r"must end in '.tflite'"):
        kr.export(model, str(tmp_path / "m.lite"), format="tflite")
    with pytest.raises(ValueError, match=r"format.*'savedmodel'.*saved_model"):
        kr.export(model, str(tmp_path / "x"), format="savedmodel")
    with pytest.raises(TypeError, match=r"keras.Model"):
        kr.export("ResNet20", str(tmp_path / "x"))
    with pytest.raises(ValueError, match=r"needs RGB images"):
        kr.export(model, str(tmp_path / "x"), preprocessing="caffe")


def test_a_failed_export_leaves_nothing_at_the_destination(model, tmp_path):
    path = tmp_path / "sm"
    with pytest.raises(TypeError):  # the model card cannot hold an object
        kr.export(model, str(path), metrics={"bad": object()})
    assert os.listdir(tmp_path) == []


@pytest.mark.xdist_group("subprocess")
def test_sigkill_during_export_leaves_nothing_at_the_destination(tmp_path):
    destination = tmp_path / "sm"
    script = (
        "import keras_residual as kr\n"
        "m = kr.ResNet20(input_shape=(32, 32, 1), depths=(1, 1, 1),"
        " preprocessing='tf')\n"
        f"kr.export(m, {str(destination)!r})\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], env=subprocess_env(), stderr=subprocess.DEVNULL
    )
    # Killed while the temporary export directory is being written.
    writing = lambda: any(n.endswith(".tmp") for n in os.listdir(tmp_path))  # noqa: E731
    kill_when(child, writing, timeout=120, poll=0.005)
    assert not destination.exists()


def test_bad_saved_models_and_images_are_refused(saved_model, tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match=r"not a loadable SavedModel"):
        load_predictor(str(corrupt))

    class Foreign(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def double(self, x):
            return {"y": 2.0 * x}

    foreign = Foreign()
    tf.saved_model.save(
        foreign,
        str(tmp_path / "foreign"),
        signatures={"serving_default": foreign.double},
    )
    with pytest.raises(
        ValueError,
        match=r"not a classifier exported by "
        r"keras_residual",
    ):
        load_predictor(str(tmp_path / "foreign"))
    with pytest.raises(ValueError, match=r"without saved_model.pb"):
        load_predictor(str(tmp_path))
    predictor = load_predictor(saved_model)
    with pytest.raises(
        ValueError,
        match=r"`images` must have 1 channel.*"
        r"\(2, 32, 32, 3\)",
    ):
        predictor.predict_images(_uint8(2, channels=3))
    with pytest.raises(ValueError, match=r"`images` must have shape.*\(32, 32\)"):
        predictor.predict_images(np.zeros((32, 32), "uint8"))


# The command line, on a real (one-epoch) training run.


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "tiny")
    return kr.train(
        "ResNet20",
        "digits",
        out,
        epochs=1,
        precision="float32",
        verbose=0,
        model_overrides=TINY,
    )


def _digit_png(directory, index, channels=1):
    from keras_residual.data import load_digits_arrays

    images, labels = load_digits_arrays()["test"]
    pixels = np.round(images[index]).astype("uint8")
    pixels = np.repeat(pixels, channels, axis=-1)
    path = os.path.join(directory, f"digit{index}-{channels}.png")
    tf.io.write_file(path, tf.io.encode_png(pixels))
    return path, pixels


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.xdist_group("train_tiny")
def test_cli_export_predict_and_evaluate_a_run(run, tmp_path, capsys):
    for format, name in (
        ("saved_model", "sm"),
        ("tflite", "m.tflite"),
        ("keras", "m.keras"),
        ("onnx", "m.onnx"),
    ):
        out = str(tmp_path / name)
        assert cli.main(["export", run.run_dir, "--format", format, "--out", out]) == 0
        card = json.load(
            open(
                os.path.join(out, "model_card.json")
                if format == "saved_model"
                else out + ".model_card.json"
            )
        )
        assert card["metrics"]["test_accuracy"] == run.metrics["test_accuracy"]
        written = str(tmp_path / f"{name}.json")
        capsys.readouterr()
        if format == "saved_model":  # the 0.1 form: --json FILE wrote FILE
            with pytest.warns(FutureWarning, match="--out FILE"):
                assert cli.main(["evaluate", out, "--json", written]) == 0
        else:  # --json prints what --out writes
            assert cli.main(["evaluate", out, "--json", "--out", written]) == 0
            assert json.loads(capsys.readouterr().out) == json.load(open(written))
        result = json.load(open(written))
        assert result["examples"] == 359
        assert result["accuracy"] == pytest.approx(
            run.metrics["test_accuracy"], abs=1.5 / 359
        )
    served = str(tmp_path / "serving")
    assert cli.main(["export", run.run_dir, "--out", served, "--version", "7"]) == 0
    assert os.path.isfile(os.path.join(served, "7", "saved_model.pb"))
    capsys.readouterr()
    path, pixels = _digit_png(str(tmp_path), 0)
    rgb_path, _ = _digit_png(str(tmp_path), 0, channels=3)
    expected = run.model.predict(
        pixels[None].astype("float32") / 127.5 - 1.0, verbose=0
    )[0]
    assert (
        cli.main(
            ["predict", str(tmp_path / "sm"), path, rgb_path, "--top-k", "2", "--json"]
        )
        == 0
    )
    lines = json.loads(capsys.readouterr().out)  # one document
    assert [line["image"] for line in lines] == [path, rgb_path]
    top = lines[0]["top_k"][0]
    assert top["class"] == int(expected.argmax())
    assert top["score"] == pytest.approx(float(expected.max()), abs=1e-5)
    assert top["name"] == run.metrics["class_names"][top["class"]]
    for model_path in (served, str(tmp_path / "m.onnx")):
        assert cli.main(["predict", model_path, path, "--json"]) == 0
        line = json.loads(capsys.readouterr().out)[0]
        assert line["top_k"][0]["class"] == int(expected.argmax())
        assert line["top_k"][0]["score"] == pytest.approx(
            float(expected.max()), abs=1e-5
        )


@pytest.mark.xdist_group("train_tiny")
def test_cli_bad_paths_exit_2_with_a_message(run, tmp_path, capsys):
    (tmp_path / "not_image.png").write_text("text")
    cases = [
        (
            ["export", str(tmp_path), "--out", str(tmp_path / "o")],
            "holds no model.keras",
        ),
        (
            ["export", run.run_dir, "--out", os.path.join(run.run_dir, "saved_model")],
            "already exists",
        ),
        (["predict", str(tmp_path / "missing"), "x.png"], "does not exist"),
        (
            ["predict", run.run_dir, str(tmp_path / "not_image.png")],
            "not a readable image",
        ),
        (["evaluate", run.run_dir, "--dataset", "digitz"], "digits"),
    ]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        assert message in capsys.readouterr().err


@pytest.mark.xdist_group("subprocess")
def test_a_saved_model_serves_without_this_package(saved_model, model):
    script = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        "sys.modules['keras_residual'] = None  # make any import fail\n"
        f"served = tf.saved_model.load({saved_model!r})\n"
        "images = np.load(sys.argv[1])\n"
        "out = served.signatures['serving_default'](images=tf.constant(images))\n"
        "print(json.dumps(out['probabilities'].numpy().tolist()))\n"
    )
    images = _uint8(2, seed=7)
    np.save(os.path.join(os.path.dirname(saved_model), "images.npy"), images)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            os.path.join(os.path.dirname(saved_model), "images.npy"),
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = model.predict(images.astype("float32") / 127.5 - 1.0, verbose=0)
    np.testing.assert_allclose(
        np.array(json.loads(done.stdout.splitlines()[-1])), expected, atol=1e-5
    )


@pytest.mark.xdist_group("subprocess")
def test_jax_model_exports_a_saved_model_and_a_keras_file_for_tflite(tmp_path):
    script = (
        "import sys, numpy as np, keras, keras_residual as kr\n"
        "m = kr.ResNet20(input_shape=(32, 32, 1), depths=(1, 1, 1),"
        " preprocessing='tf')\n"
        "x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1))\n"
        "np.save(sys.argv[1] + '/x.npy', x.astype('uint8'))\n"
        "np.save(sys.argv[1] + '/y.npy', m.predict(x / 127.5 - 1, verbose=0))\n"
        "kr.export(m, sys.argv[1] + '/sm')\n"
        "kr.export(m, sys.argv[1] + '/m.keras', format='keras')\n"
        "try:\n"
        "    kr.export(m, sys.argv[1] + '/m.tflite', format='tflite')\n"
        "except ValueError as error:\n"
        "    print('refused:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(KERAS_BACKEND="jax"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: format='tflite' needs the TensorFlow backend" in done.stdout
    images, expected = np.load(tmp_path / "x.npy"), np.load(tmp_path / "y.npy")
    served = tf.saved_model.load(str(tmp_path / "sm"))
    outputs = served.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    lite = kr.export(
        keras.saving.load_model(str(tmp_path / "m.keras")),
        str(tmp_path / "m.tflite"),
        format="tflite",
    )
    np.testing.assert_allclose(
        load_predictor(lite).predict_images(images), expected, atol=1e-5
    )


def test_auto_preprocessing_comes_from_the_model_never_from_its_name(tmp_path):
    """A model named like a zoo model but recording no preprocessing is
    refused; one that records a mode exports with it, and the mode travels
    through a .keras file to the predictor."""
    unknown = kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)
    assert unknown.name == "resnet20" and unknown.preprocessing is None
    with pytest.raises(ValueError, match=r"records none.*preprocessing='tf'"):
        kr.export(unknown, str(tmp_path / "unknown"))
    assert not os.path.exists(tmp_path / "unknown")
    recorded = kr.build(
        "ResNet50",
        weights=None,
        input_shape=(32, 32, 3),
        classes=4,
        depths=(1, 1, 1, 1),
        preprocessing="torch",
    )
    path = kr.export(recorded, str(tmp_path / "m.keras"), format="keras")
    card = json.load(open(path + ".model_card.json"))
    assert card["preprocessing"]["mode"] == "torch"
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert reloaded.preprocessing == "torch"
    os.remove(path + ".model_card.json")  # the predictor reads the model itself
    predictor = load_predictor(path)
    images = _uint8(2, 32, 32, 3, seed=9)
    expected = recorded.predict(
        keras.applications.imagenet_utils.preprocess_input(
            images.astype("float32"), mode="torch"
        ),
        verbose=0,
    )
    np.testing.assert_allclose(predictor.predict_images(images), expected, atol=1e-5)
    bare = kr.export(
        unknown, str(tmp_path / "bare.keras"), format="keras", preprocessing="none"
    )
    os.remove(bare + ".model_card.json")
    with pytest.raises(ValueError, match=r"records no preprocessing"):
        load_predictor(bare).predict_images(_uint8(1))


def test_default_top_k_fits_models_with_fewer_than_five_classes(tmp_path):
    """A 2-class model exports with top_k = 2 by default (train() exports
    every run this way); an explicit top_k beyond the classes is refused."""
    two = kr.ResNet20(input_shape=(32, 32, 1), classes=2, preprocessing="tf", **TINY)
    path = kr.export(two, str(tmp_path / "two"))
    outputs = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(_uint8(1))
    )
    assert outputs["top_k_classes"].shape == (1, 2)
    assert json.load(open(os.path.join(path, "model_card.json")))["top_k"] == 2
    with pytest.raises(ValueError, match=r"`top_k` must lie in \[1, 2\]; received 3"):
        kr.export(two, str(tmp_path / "three"), top_k=3)


def test_folding_keeps_float32_while_the_global_policy_is_mixed(model, tmp_path):
    """train() exports inside its run's mixed policy: the folded BNs'
    stand-ins must compute in the model's float32, not the global bfloat16."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    folded, _ = fold_batch_norm(model)
    assert {
        layer.compute_dtype
        for layer in folded.layers
        if not isinstance(layer, keras.layers.InputLayer)
    } == {"float32"}
    path = kr.export(model, str(tmp_path / "folded_under_mixed"))
    inputs = np.random.default_rng(7).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    signature = tf.saved_model.load(path).signatures["serve_preprocessed"]
    np.testing.assert_allclose(
        signature(inputs=tf.constant(inputs))["probabilities"].numpy(),
        model.predict(inputs, verbose=0),
        atol=1e-5,
    )


def test_saved_models_fold_batch_norm_into_convolutions_and_match(model, tmp_path):
    before = [w.copy() for w in model.get_weights()]
    folded = kr.export(model, str(tmp_path / "folded"))
    plain = kr.export(model, str(tmp_path / "plain"), fold_batch_norm=False)
    # Tiny ResNet20: the stem's conv -> BN and two per basic block, three
    # blocks; the zero-padding shortcuts have no convolution.
    assert (
        json.load(open(os.path.join(folded, "model_card.json")))["folded_batch_norms"]
        == 1 + 2 * 3
    )
    assert "folded_batch_norms" not in json.load(
        open(os.path.join(plain, "model_card.json"))
    )
    inputs = np.random.default_rng(3).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    expected = model.predict(inputs, verbose=0)
    for path in (folded, plain):
        signature = tf.saved_model.load(path).signatures["serve_preprocessed"]
        np.testing.assert_allclose(
            signature(inputs=tf.constant(inputs))["probabilities"].numpy(),
            expected,
            atol=1e-5,
        )
    for old, new in zip(before, model.get_weights()):  # the model is untouched
        np.testing.assert_array_equal(old, new)
    preact = tiny_resnet("PreActResNet164", input_shape=(32, 32, 1), classes=10)
    path = kr.export(preact, str(tmp_path / "preact"), preprocessing="tf")
    card = json.load(open(os.path.join(path, "model_card.json")))
    # Pre-activation: the stem's conv feeds only the first block's preact BN
    # (its projection shortcut reads the pre-activated tensor, as in
    # keras.applications' ResNetV2), then conv -> BN twice per bottleneck;
    # the preact BNs that follow an addition stay.
    assert card["folded_batch_norms"] == 1 + 2 * 3
    with pytest.raises(ValueError, match=r"`fold_batch_norm` must be True, False"):
        kr.export(model, str(tmp_path / "x"), fold_batch_norm="yes")
    with pytest.raises(ValueError, match=r"format='keras' saves the model as it is"):
        kr.export(model, str(tmp_path / "m.keras"), "keras", fold_batch_norm=True)


@pytest.mark.parametrize("wrapper", ["functional", "sequential"])
def test_models_wrapping_a_zoo_backbone_export_with_its_batch_norms_folded(
    wrapper, tmp_path
):
    backbone = tiny_resnet(include_top=False, input_shape=(32, 32, 1), pooling="avg")
    rng = np.random.default_rng(5)
    for layer in backbone.layers:  # statistics away from their defaults
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(
                rng.uniform(0.5, 2, layer.moving_variance.shape)
            )
    head = keras.layers.Dense(3, activation="softmax", name="head")
    if wrapper == "functional":
        images = keras.Input((32, 32, 1))
        model = keras.Model(images, head(backbone(images)))
    else:
        model = keras.Sequential([keras.Input((32, 32, 1)), backbone, head])
    path = kr.export(model, str(tmp_path / wrapper), preprocessing="tf")
    card = json.load(open(os.path.join(path, "model_card.json")))
    # The backbone's stem conv -> BN and two per basic block, one block a stage.
    assert card["folded_batch_norms"] == 1 + 2 * 3
    inputs = rng.uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    signature = tf.saved_model.load(path).signatures["serve_preprocessed"]
    np.testing.assert_allclose(
        signature(inputs=tf.constant(inputs))["probabilities"].numpy(),
        model.predict(inputs, verbose=0),
        atol=1e-5,
    )


def test_a_tflite_export_refuses_a_resize_tflite_has_no_kernel_for(tmp_path):
    """Bicubic resizing has no TFLite builtin: refused before converting,
    naming what works; the same preprocessing exports as a SavedModel."""
    bicubic = kr.Preprocessing(interpolation="bicubic")
    model = tiny_resnet(input_shape=(16, 16, 3), preprocessing=bicubic)
    with pytest.raises(ValueError, match="interpolation='bicubic'.*bilinear"):
        kr.export(model, tmp_path / "m.tflite", "tflite")
    assert not os.listdir(tmp_path)
