"""Exports and what serves them: SavedModels that run their own I/O, TFLite and
ONNX files that would crash or lie, cards that must match their artefact,
and what a kill during an export leaves. Each test reproduces an attack or a
finding that worked before its fix (the hardening rounds of issues #15 and
#40)."""

import json
import os

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.utils.atomic import atomic_path
from keras_residual.weights import load_weights
from tests.conftest import TINY
from tests.conftest import kill_when
from tests.conftest import run_python
from tests.conftest import small_classifier
from tests.safety_helpers import EXPORT_LOOP
from tests.safety_helpers import LOAD_EACH
from tests.safety_helpers import SHIPPED
from tests.safety_helpers import _refused_in_a_child
from tests.safety_helpers import _rewired
from tests.safety_helpers import _saved_model_with_a_load_time_writer
from tests.safety_helpers import _small_saved_model
from tests.safety_helpers import _steered_saved_model
from tests.safety_helpers import _tflite_with_pad_and_topk
from tests.safety_helpers import special_file
from tests.safety_helpers import tiny_model


def test_export_takes_a_built_sequential_and_refuses_an_unbuilt_one(tmp_path):
    path = kr.export(
        small_classifier(), str(tmp_path / "seq.keras"), "keras", preprocessing="tf"
    )
    from keras_residual.serving.model_card import card_path

    card = json.load(open(card_path(path)))
    assert os.path.isfile(path) and card["preprocessing"]["mode"] == "tf"
    never_built = keras.Sequential([keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="never been built.*keras.Input"):
        kr.export(never_built, str(tmp_path / "never.keras"), "keras")
    with pytest.raises(ValueError, match="`top_k`"):
        kr.export(
            small_classifier(),
            str(tmp_path / "k.keras"),
            "keras",
            preprocessing="tf",
            top_k=0,
        )


def test_predict_refuses_top_k_below_one(tmp_path, capsys):
    from keras_residual.cli import main

    code = main(["predict", str(tmp_path / "any.keras"), "x.png", "--top-k", "-1"])
    assert code == 2
    assert "`--top-k`" in capsys.readouterr().err


def test_predict_escapes_control_characters_in_class_names(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main

    names = ["cat\x1b[2J\x1b[31m", "dog\nfake.png: owned (1.000)", "bird"]
    path = kr.export(
        small_classifier(),
        str(tmp_path / "model.keras"),
        "keras",
        preprocessing="tf",
        class_names=names,
    )
    image = tmp_path / "image\x1b[1m.png"
    Image.new("L", (16, 16), 128).save(image)
    assert main(["predict", path, str(image), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.count("\n") == 1
    assert "cat\\x1b[2J" in out and "dog\\nfake.png" in out and "image\\x1b[1m" in out


def test_a_cardless_tflite_serves_images_and_a_folder_is_not_an_image(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.model_card import card_path

    path = kr.export(small_classifier(), str(tmp_path / "m.tflite"), "tflite",
                     preprocessing="tf")  # fmt: skip
    os.remove(card_path(path))
    image = tmp_path / "x.png"
    Image.new("L", (16, 16)).save(image)
    assert main(["predict", path, str(image)]) == 0  # uint8 input: preprocessing
    capsys.readouterr()
    assert main(["predict", path, str(tmp_path)]) == 2
    assert "is a directory, not a file" in capsys.readouterr().err
    # A card that says 5 channels blames the card, not the image.
    with open(card_path(path), "w") as handle:
        json.dump({"input_shape": [16, 16, 5], "preprocessing": {"mode": "tf"}}, handle)
    assert main(["predict", path, str(image)]) == 2
    assert "says the model takes 5 channel(s), but its signature takes 1" in (
        capsys.readouterr().err
    )


def test_special_files_in_exports_and_weights_are_refused_unread(tmp_path):
    from keras_residual.serving.predictor import load_predictor

    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        kr.from_checkpoint(str(fifo))
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        load_weights(tiny_model(), str(fifo))
    # Inside a SavedModel, the digest its card is checked with reads every file.
    path = kr.export(small_classifier(), str(tmp_path / "export"), preprocessing="tf")
    os.symlink("/dev/zero", os.path.join(path, "variables", "zero"))
    with pytest.raises(ValueError, match=r"zero' is a device \(a link to '/dev/zero'"):
        load_predictor(path)
    os.remove(os.path.join(path, "variables", "zero"))
    os.mkfifo(os.path.join(path, "assets.pipe"))
    with pytest.raises(ValueError, match="assets.pipe' is a FIFO"):
        load_predictor(path)


def test_file_export_card_names_its_artifact_and_a_mismatch_is_refused(tmp_path):
    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor
    from keras_residual.utils.download import file_digest

    path = str(tmp_path / "model.keras")
    stale = tmp_path / ".model.keras.kr-k1lled00.tmp.keras"
    stale.write_bytes(b"half an export")
    neighbour = tmp_path / ".other.keras.kr-x0000000.tmp.keras"
    neighbour.write_bytes(b"another writer's staging")
    kr.export(small_classifier(), path, "keras", preprocessing="tf")
    card = json.load(open(card_path(path)))
    assert card["artifact_sha256"] == file_digest(path, "sha256")
    assert not stale.exists() and neighbour.exists()
    load_predictor(path)
    # A kill after the card but before the rename leaves an older artefact.
    small_classifier(name="older").save(path)
    with pytest.raises(ValueError, match="does not match the sha256 in its model card"):
        load_predictor(path)


@pytest.mark.parametrize(
    "name",
    sorted(n for n in os.listdir(SHIPPED) if os.path.isdir(os.path.join(SHIPPED, n))),
)
def test_shipped_saved_models_pass_the_graph_check_and_their_digest(name):
    from keras_residual.serving.graph_check import check_saved_model
    from keras_residual.serving.model_card import read_model_card
    from keras_residual.utils.download import tree_digest

    path = os.path.join(SHIPPED, name)
    check_saved_model(path)
    card = read_model_card(path)
    assert card["artifact_sha256"] == tree_digest(path, exclude=("model_card.json",))


def test_shipped_files_are_exports_with_their_cards_digest():
    """Beside the SavedModel folders, `saved_models/` holds only exported
    files (`.tflite`) whose model cards name their sha256, and the README."""
    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.model_card import read_model_card
    from keras_residual.utils.download import file_digest

    paths = {n: os.path.join(SHIPPED, n) for n in os.listdir(SHIPPED)}
    files = {n for n, path in paths.items() if not os.path.isdir(path)}
    exports = [n for n in files if n.endswith(".tflite")]
    cards = {os.path.basename(card_path(paths[n])) for n in exports}
    assert files == {"README.md", *exports, *cards} and exports
    for name in exports:
        card = read_model_card(paths[name])
        assert card["artifact_sha256"] == file_digest(paths[name], "sha256")


def test_a_saved_model_that_reads_a_file_is_refused_unless_trusted(tmp_path, capsys):
    import tensorflow as tf

    from keras_residual.cli import main
    from keras_residual.serving.predictor import load_predictor

    secret = tmp_path / "hostname"
    secret.write_text("the machine's name")

    class Snooper(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.uint8)])
        def serve(self, images):
            leaked = tf.io.read_file(str(secret))
            tf.io.write_file(str(tmp_path / "dropped.txt"), leaked)
            count = tf.shape(images)[0]
            return {"probabilities": tf.ones([count, 2]) * 0.5}

    path = str(tmp_path / "snooper")
    module = Snooper()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match=r"(?s)ReadFile.*WriteFile.*--trust-model"):
        load_predictor(path)
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (8, 8)).save(image)
    assert main(["predict", path, str(image)]) == 2
    assert "allow-list" in capsys.readouterr().err
    assert not (tmp_path / "dropped.txt").exists()


def test_a_saved_model_that_writes_a_file_at_load_time_is_refused(tmp_path, capsys):
    """The graph check covers what TF's loader runs by itself (resource
    initializers), not only what the signatures reach."""
    import tensorflow as tf
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.predictor import load_predictor

    victim = tmp_path / "bashrc"
    victim.write_text("export PATH\n")
    path = str(tmp_path / "innocent")
    _saved_model_with_a_load_time_writer(path, victim)
    with pytest.raises(ValueError, match=r"(?s)PrintV2.*--trust-model"):
        load_predictor(path)
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["predict", path, str(image)]) == 2
    assert "PrintV2" in capsys.readouterr().err
    # As version 1 of a TF Serving base directory.
    base = tmp_path / "serving"
    base.mkdir()
    os.rename(path, base / "1")
    with pytest.raises(ValueError, match="PrintV2"):
        load_predictor(str(base))
    path = str(base / "1")
    assert victim.read_text() == "export PATH\n"
    # What the check guards against: loading it without the check writes.
    tf.saved_model.load(path)
    assert victim.read_text() != "export PATH\n"


def test_a_signature_naming_a_tensor_the_graph_lacks_is_refused(tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    from keras_residual.serving.graph_check import check_saved_model

    path = kr.export(small_classifier(), str(tmp_path / "export"), preprocessing="tf")
    check_saved_model(path)
    proto = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    with open(pb, "rb") as handle:
        proto.ParseFromString(handle.read())
    output = next(iter(proto.meta_graphs[0].signature_def["serve"].outputs.values()))
    output.name = "no_such_node:0"
    with open(pb, "wb") as handle:
        handle.write(proto.SerializeToString())
    with pytest.raises(ValueError, match=r"'serve' names the tensor 'no_such_node:0'"):
        check_saved_model(path)


@pytest.mark.parametrize(
    "model_name, preprocessing",
    [("ResNet18", "caffe"), ("ResNet50V2", "torch"), ("HighwayNet20", "tf")],
)
def test_exports_of_each_family_and_preprocessing_pass_the_graph_check(
    tmp_path, model_name, preprocessing
):
    from keras_residual.serving.graph_check import check_saved_model

    model = kr.build(
        model_name,
        input_shape=(32, 32, 3),
        classes=3,
        width_multiplier=0.125,
        depths=(1,) * len(kr.get_spec(model_name).stages),
    )
    path = kr.export(model, str(tmp_path / "export"), preprocessing=preprocessing)
    check_saved_model(path)


@pytest.mark.slow  # a real process
def test_sigkill_during_export_leaves_nothing_that_loads_wrong(tmp_path):
    """A real process exporting in a loop is killed at a random instant;
    whatever it left either loads consistently or is refused, and the next
    export removes its staging."""
    import subprocess
    import sys

    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor
    from tests.conftest import subprocess_env

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = str(tmp_path / "model.keras")
    child = subprocess.Popen(
        [sys.executable, "-c", EXPORT_LOOP, path],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(PYTHONPATH=root),
    )
    try:
        assert child.stdout.readline().startswith("exported")
    finally:
        kill_when(child, after=float(np.random.default_rng().uniform(0.0, 0.5)))
    if os.path.exists(path):
        card = json.load(open(card_path(path)))
        try:
            load_predictor(path)
        except ValueError as error:  # killed between card and artefact
            assert "does not match the sha256" in str(error)
            assert card["artifact_sha256"]
    model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)
    kr.export(model, path, "keras", preprocessing="tf", overwrite=True)
    assert [n for n in os.listdir(tmp_path) if ".tmp" in n] == []
    load_predictor(path)


def test_saved_model_card_names_the_digest_of_its_files(tmp_path):
    from keras_residual.serving.predictor import load_predictor

    model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)
    path = kr.export(model, str(tmp_path / "export"), preprocessing="tf")
    card = json.load(open(os.path.join(path, "model_card.json")))
    assert len(card["artifact_sha256"]) == 64
    load_predictor(path)
    variables = os.path.join(path, "variables")
    data = [n for n in os.listdir(variables) if n.startswith("variables.data")][0]
    with open(os.path.join(variables, data), "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_predictor(path)


def test_an_export_clears_what_a_killed_export_left_of_its_card(tmp_path):
    """A kill between the card's staging and its rename leaves the card's
    temporary file beside the destination; the next export removes it."""
    from keras_residual.serving.model_card import card_path

    path = str(tmp_path / "model.keras")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(card_path(path)) as staged:
            killed = os.path.basename(staged)
            raise KeyboardInterrupt
    (tmp_path / killed).write_text("half")  # as if SIGKILLed
    kr.export(small_classifier(), path, "keras", preprocessing="tf")
    assert sorted(os.listdir(tmp_path)) == [
        "model.keras",
        "model.keras.model_card.json",
    ]


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_a_tflite_operator_reading_its_own_output_is_refused(tmp_path):
    import numpy as np

    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor
    from keras_residual.serving.tflite_check import check_tflite_file

    path = _tflite_with_pad_and_topk(tmp_path)
    check_tflite_file(path)  # the legitimate model, with PAD and TOPK_V2
    images = np.zeros((2, 16, 16, 1), "uint8")
    assert len(load_predictor(path).predict_images(images)) == 2
    os.remove(card_path(path))  # the card's sha256 would refuse it first
    bad = [_rewired(path, str(tmp_path / f"{o}.tflite"), o) for o in ("PAD", "TOPK_V2")]
    # In a child, with inputs: the attack's interpreter died of SIGSEGV.
    child = run_python(LOAD_EACH, *bad, timeout=120)
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    answers = child.stdout.strip().splitlines()[-2:]
    assert len(answers) == 2
    assert all(
        a.startswith("refused") and "before itself writes it" in a for a in answers
    )


@pytest.mark.parametrize("route", ["object_graph", "init_op", "tf1_restore"])
def test_the_saver_def_cannot_steer_what_may_write_files(tmp_path, route):
    from keras_residual.serving.graph_check import check_saved_model

    folder = _steered_saved_model(str(tmp_path / "steered"), route)
    with pytest.raises(ValueError, match=r"SaveV2.*__inference_writer_8"):
        check_saved_model(folder)


@pytest.mark.xdist_group("subprocess")
def test_saved_model_members_and_keras_hub_files_that_are_special_are_refused(
    tmp_path,
):
    import keras_hub

    from keras_residual.serving.model_card import card_path

    pairs = []
    for member in ("variables/variables.index", "fingerprint.pb"):
        path = _small_saved_model(str(tmp_path / member.replace("/", "_")))
        os.remove(card_path(path))  # without a card: no digest to check first
        os.remove(os.path.join(path, member))
        os.mkfifo(os.path.join(path, member))
        pairs += [("untrusted", path), ("trusted", path)]
    for member, kind in (("config.json", "fifo"), ("model.weights.h5", "zero")):
        backbone = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64], stackwise_num_blocks=[1],
            stackwise_num_strides=[1], block_type="basic_block",
            use_pre_activation=False, image_shape=(None, None, 3),
        )  # fmt: skip
        folder = str(tmp_path / f"hub_{kind}")
        backbone.save_to_preset(folder)
        os.remove(os.path.join(folder, member))
        special_file(kind, os.path.join(folder, member))
        pairs.append(("preset", folder))
    answers = _refused_in_a_child(*pairs)
    assert all(a.startswith("refused") for a in answers), answers
    assert sum("is a FIFO" in a for a in answers) == 5
    assert sum("a device" in a for a in answers) == 1


def test_an_onnx_export_computing_nan_is_refused_and_json_stays_valid(tmp_path, capsys):
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from keras_residual.cli import main
    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor

    model = small_classifier(3, "small")
    path = kr.export(model, str(tmp_path / "m.onnx"), "onnx", preprocessing="tf")
    graph = onnx.load(path)
    kernel = next(t for t in graph.graph.initializer if tuple(t.dims) == (4, 3))
    nan = np.full((4, 3), np.nan, "float32")  # the classifier's kernel
    kernel.CopyFrom(numpy_helper.from_array(nan, kernel.name))
    onnx.save(graph, path)
    os.remove(card_path(path))  # its sha256 would refuse the file first
    with pytest.raises(ValueError, match="non-finite probabilities"):
        load_predictor(path).predict_images(np.zeros((2, 16, 16, 1), "uint8"))
    image = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), "uint8")).save(image)
    code = main(["predict", path, str(image), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "non-finite probabilities" in captured.err
    assert captured.out == ""  # no half document


def test_a_keras_file_of_a_never_called_sequential_is_refused_by_name(tmp_path):

    from keras_residual.serving.predictor import load_predictor

    model = small_classifier(3, "never_called")
    path = str(tmp_path / "seq.keras")
    model.save(path)  # Keras' own save: not through kr.export
    with pytest.raises(ValueError, match="never called"):
        load_predictor(path)
