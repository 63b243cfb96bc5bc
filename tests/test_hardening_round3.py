"""Hardening, round 3 (issue #40): each test reproduces a finding of the
third attack before its fix. Reads that once hung run under a deadline
(SIGALRM), so a regression fails instead of stalling the suite."""

import contextlib
import json
import os
import signal

import numpy as np
import pytest

import keras_residual as kr
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.runs import check_run_dir
from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.atomic import remove_stale_staging
from tests.conftest import TINY
from tests.conftest import run_python
from tests.conftest import small_classifier
from tests.conftest import small_digits
from tests.conftest import tiny_resnet


@contextlib.contextmanager
def deadline(seconds=10):
    """Fails the block if it takes longer than `seconds` (a hung read)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def special_file(kind, path):
    """Makes `path` a FIFO, a link to /dev/zero, or a directory."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    else:
        os.mkdir(path)


# 4: a folder holding only hidden files is the user's -------------------------


def test_a_folder_of_hidden_files_is_refused_and_kept(tmp_path):
    folder = tmp_path / "mine"
    (folder / ".cache.tmp").mkdir(parents=True)
    (folder / ".cache.tmp" / "keep.txt").write_text("keep")
    (folder / ".notes.tmp").write_text("notes")
    for resume in (False, True):
        with pytest.raises(ValueError, match=r"not a run directory.*\.cache\.tmp"):
            kr.train(
                "ResNet20", small_digits(), str(folder), epochs=1, resume=resume,
                export=False, verbose=0, model_overrides=TINY,
            )  # fmt: skip
    assert (folder / ".notes.tmp").read_text() == "notes"
    assert (folder / ".cache.tmp" / "keep.txt").read_text() == "keep"


def test_only_the_staging_of_atomic_writes_is_cleared(tmp_path):
    # A killed writer's real staging name, made by the writer itself.
    killed = None
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(tmp_path / "model.keras"), suffix=".keras") as staged:
            killed = os.path.basename(staged)
            raise KeyboardInterrupt
    with open(tmp_path / killed, "w") as handle:  # as if SIGKILLed
        handle.write("half")
    legacy = ".saved_model.x1y2z3w4.tmp"  # the form before `kr-`
    (tmp_path / legacy).mkdir()
    users = [".notes.tmp", ".cache.tmp", ".model.keras.tmp", "a.tmp"]
    for name in users:
        (tmp_path / name).write_text("mine")
    assert sorted(remove_stale_staging(str(tmp_path))) == sorted([killed, legacy])
    assert sorted(os.listdir(tmp_path)) == sorted(users)


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


# 5: run folder readers are bounded ---------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "zero", "directory"])
@pytest.mark.parametrize("name", ["run.json", "state.json"])
def test_a_special_run_json_or_state_json_is_refused_at_once(tmp_path, kind, name):
    read = {
        "run.json": lambda: check_run_dir(str(tmp_path), {}, resume=True),
        "state.json": lambda: ResumableBackup(str(tmp_path)).read_state(),
    }[name]
    special_file(kind, tmp_path / name)
    with (
        deadline(),
        pytest.raises(ValueError, match=rf"{name}.*(FIFO|device|directory)"),
    ):
        read()


GOOD_STATE = {"epoch": 2, "weights": "epoch-0002.weights.h5", "history": []}


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not readable JSON"),
        ('["epoch", 3]', "is not an object"),
        (
            '{"epoch": "3", "weights": "epoch-0003.weights.h5", "history": []}',
            "epoch count",
        ),
        ({**GOOD_STATE, "weights": "../../outside.weights.h5"}, "names no checkpoint"),
        ({**GOOD_STATE, "weights": "/etc/passwd"}, "names no checkpoint"),
        ({**GOOD_STATE, "history": {"loss": 1}}, "history rows"),
        ({**GOOD_STATE, "previous": {"epoch": 1, "weights": "x"}}, "previous state"),
        ({**GOOD_STATE, "previous": [1]}, "previous state.*not an object"),
    ],
)
def test_a_foreign_state_json_is_refused_naming_what_does_not_fit(
    tmp_path, content, message
):
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / "state.json").write_text(text)
    with deadline(), pytest.raises(ValueError, match=message):
        ResumableBackup(str(tmp_path)).read_state()


def test_a_state_json_as_written_by_a_run_reads_back(tmp_path):
    state = {**GOOD_STATE, "sha256": "ab" * 32, "seed_states": [[1, 2]]}
    state["previous"] = {**GOOD_STATE, "epoch": 1, "weights": "epoch-0001.weights.h5"}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert ResumableBackup(str(tmp_path)).read_state() == state


# 8: push publishes the preset's own files only ---------------------------------


@pytest.mark.xdist_group("subprocess")
def test_push_refuses_a_linked_preset_file_and_leaves_other_files_local(tmp_path):
    import shutil

    from tests.conftest import run_cli
    from tests.local_hub import hub_env
    from tests.local_hub import start_hub
    from tests.local_hub import stop_hub

    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    preset = kr.save_to_preset(model, tmp_path / "preset")
    (tmp_path / "preset" / ".env").write_text("HF_TOKEN=secret")
    (tmp_path / "preset" / "notes.txt").write_text("private")
    # The card a link to a file outside the folder (as /etc/passwd was).
    outside = tmp_path / "outside.md"
    shutil.move(os.path.join(preset, "README.md"), outside)
    os.symlink(outside, os.path.join(preset, "README.md"))
    hub = start_hub()
    try:
        env = hub_env(hub, tmp_path / "hf", HF_TOKEN="local-test-token")
        refused = run_cli("push", preset, "me/linked", env=env, timeout=300)
        assert refused.returncode == 2
        assert "is a link" in refused.stderr and "outside.md" in refused.stderr
        assert hub.tree("me/linked") is None
        os.remove(os.path.join(preset, "README.md"))
        shutil.copyfile(outside, os.path.join(preset, "README.md"))
        pushed = run_cli("push", preset, "me/linked", env=env, timeout=300)
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        assert "Not uploaded (not part of a preset): .env, notes.txt" in pushed.stdout
        assert sorted(hub.tree("me/linked")) == [
            "README.md",
            "config.json",
            "model.safetensors",
        ]
        # The card, written for its local folder, loads from the Hub there.
        card = hub.tree("me/linked")["README.md"].decode()
        assert 'model = kr.load_preset("hf://me/linked")' in card
    finally:
        stop_hub(hub)


# 3: a resumed search never writes through a link -------------------------------


def test_a_saved_search_holding_a_linked_trial_folder_is_refused(tmp_path):
    from keras_residual.search import ResidualHyperModel
    from keras_residual.search import make_tuner
    from keras_residual.search.hypermodel import trial_backup_dir
    from keras_residual.search.space import SearchSpace

    space = SearchSpace({"depth": [1], "base_width": [8], "growth_rate": [8]})
    hypermodel = ResidualHyperModel(space)
    tuner = make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    tuner.oracle.save()
    project = tmp_path / "tuner" / "search"
    state = json.loads((project / "oracle.json").read_text())
    state["start_order"] = ["0"]  # a plain id, listed as the attack did
    (project / "oracle.json").write_text(json.dumps(state))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "trial.json").write_text("the user's file")
    os.symlink(victim, project / "trial_0")
    with pytest.raises(ValueError, match=r"holds .*trial_0.*a link to .*victim"):
        make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    assert (victim / "trial.json").read_text() == "the user's file"
    make_tuner(  # starting over removes the link, not what it points to
        "random", hypermodel, str(tmp_path / "tuner"), max_trials=2, overwrite=True
    )
    assert (victim / "trial.json").read_text() == "the user's file"
    os.symlink(victim, tmp_path / "backups")
    with pytest.raises(ValueError, match="backup folder .* is a link"):
        trial_backup_dir(str(tmp_path / "backups"), "0")


def test_a_saved_search_holding_a_hard_linked_file_is_refused(tmp_path):
    # keras-tuner rewrites oracle.json in place (open(path, "w")), so a
    # second name of it outside the folder (a `cp -l` copy, an unpacked
    # archive's hard link) would be overwritten by a resumed search.
    from keras_residual.search import ResidualHyperModel
    from keras_residual.search import make_tuner
    from keras_residual.search.space import SearchSpace

    space = SearchSpace({"depth": [1], "base_width": [8], "growth_rate": [8]})
    hypermodel = ResidualHyperModel(space)
    tuner = make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    tuner.oracle.save()
    oracle = tmp_path / "tuner" / "search" / "oracle.json"
    outside = tmp_path / "kept.json"
    os.link(oracle, outside)
    before = outside.read_text()
    with pytest.raises(ValueError, match=r"oracle\.json.*a hard link \(one of 2 names"):
        make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)
    assert outside.read_text() == before
    os.remove(outside)  # one name again: resumes
    make_tuner("random", hypermodel, str(tmp_path / "tuner"), max_trials=2)


# 7: weights checked in every format ---------------------------------------------


def _raw_safetensors(path, tensors):
    """Writes `{name: (dtype code, shape, raw bytes)}` as safetensors, so
    that BF16 (which NumPy cannot write) can be crafted too."""
    import struct

    header, data, offset = {}, b"", 0
    for name, (code, shape, raw) in tensors.items():
        header[name] = {
            "dtype": code,
            "shape": shape,
            "data_offsets": [offset, offset + len(raw)],
        }
        data, offset = data + raw, offset + len(raw)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + data)


def _preset_tensors(folder):
    import numpy as np

    from keras_residual.weights.state_dict import read_safetensors

    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    return {
        name: ("F32", list(value.shape), np.asarray(value, "<f4").tobytes())
        for name, value in tensors.items()
    }


def _bad_value(kind, shape):
    import numpy as np

    count = int(np.prod(shape))
    if kind == "nan":
        return "F32", np.full(count, np.nan, "<f4").tobytes()
    if kind == "inf":
        return "F32", np.full(count, np.inf, "<f4").tobytes()
    if kind == "bf16_nan":
        return "BF16", np.full(count, 0x7FC0, "<u2").tobytes()
    if kind == "f64_huge":
        return "F64", np.full(count, 1e300, "<f8").tobytes()
    if kind == "negative_variance":
        return "F32", np.full(count, -1.0, "<f4").tobytes()
    if kind == "int64":
        return "I64", np.full(count, 2**62, "<i8").tobytes()
    if kind == "bool":
        return "BOOL", np.ones(count, "u1").tobytes()
    return "U64", np.full(count, 2**64 - 1, "<u8").tobytes()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan", "non-finite"),
        ("inf", "non-finite"),
        ("bf16_nan", "non-finite"),
        ("f64_huge", "beyond the range of float32"),
        ("negative_variance", "negative values"),
        ("int64", "integer or boolean tensor"),
        ("bool", "integer or boolean tensor"),
        ("uint64", "has dtype 'U64'"),
    ],
)
def test_a_preset_with_values_no_weight_has_is_refused(tmp_path, kind, message):
    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    folder = kr.save_to_preset(model, tmp_path / "preset")
    tensors = _preset_tensors(folder)
    name = next(n for n in tensors if n.endswith("moving_variance"))
    if kind not in ("negative_variance",):
        name = next(n for n in tensors if n.endswith("kernel"))
    code, shape, _ = tensors[name]
    tensors[name] = (*_bad_value(kind, shape)[:1], shape, _bad_value(kind, shape)[1])
    _raw_safetensors(os.path.join(folder, "model.safetensors"), tensors)
    with pytest.raises(ValueError, match=message):
        kr.load_preset(folder)
    with pytest.raises(ValueError, match=message):
        tiny_resnet(input_shape=(16, 16, 1), classes=3, weights=folder)


def _dataset_names(handle, part):
    import h5py

    names = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and part in name:
            names.append(name)

    handle.visititems(visit)
    return names


def test_a_legacy_h5_with_float64_beyond_float32_or_integers_is_refused(tmp_path):
    import h5py
    import numpy as np

    from keras_residual.weights import load_weights
    from keras_residual.weights import save_legacy_weights

    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    before = [np.array(v) for v in model.weights]
    for values, message in (
        (lambda shape: np.full(shape, 1e300), "beyond the range of float32"),
        (lambda shape: np.full(shape, 2**62, "int64"), "integer or boolean"),
        (lambda shape: np.ones(shape, bool), "integer or boolean"),
    ):
        path = str(tmp_path / "weights.h5")
        save_legacy_weights(model, path)
        with h5py.File(path, "r+") as handle:
            names = _dataset_names(handle, "kernel")
            shape = handle[names[0]].shape
            del handle[names[0]]
            handle[names[0]] = values(shape)
        with pytest.raises(ValueError, match=message):
            load_weights(model, path)
        assert all(
            np.array_equal(np.array(v), b) for v, b in zip(model.weights, before)
        )


def test_from_keras_hub_refuses_nan_kernels_and_negative_variances(tmp_path):
    import keras_hub
    import numpy as np

    for corrupt, message in (("kernel", "non-finite"), ("moving_variance", "negative")):
        backbone = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 32], stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2], block_type="basic_block",
            use_pre_activation=False, image_shape=(None, None, 3),
        )  # fmt: skip
        variable = next(v for v in backbone.weights if v.path.endswith(corrupt))
        bad = np.nan if corrupt == "kernel" else -1.0
        variable.assign(np.full(variable.shape, bad, "float32"))
        folder = str(tmp_path / corrupt)
        backbone.save_to_preset(folder)
        with pytest.raises(ValueError, match=message):
            kr.from_keras_hub(folder)


# 6: sizes that are typos (or attacks) refused before anything is allocated ------


def test_classes_and_input_sizes_past_the_limits_are_refused_by_name():
    with pytest.raises(ValueError, match=r"`classes` is 20000000, over the limit"):
        tiny_resnet(input_shape=(32, 32, 1), classes=20_000_000)
    with pytest.raises(ValueError, match=r"input_shape.*over the limit"):
        tiny_resnet(input_shape=(20000, 20000, 1), classes=3)
    # Legitimate sizes still build: 1-D audio, a large photo-sized input.
    kr.ResNet18(input_shape=(160_000, 1), classes=35)
    tiny_resnet(input_shape=(4096, 4096, 3), classes=3)


def test_a_keras_file_declaring_a_giant_classifier_is_refused(tmp_path):
    import zipfile

    path = str(tmp_path / "model.keras")
    tiny_resnet(input_shape=(32, 32, 1), classes=3).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = members["config.json"].decode()
    assert '"classes": 3' in config
    members["config.json"] = config.replace(
        '"classes": 3', '"classes": 20000000'
    ).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import keras

    with deadline(60), pytest.raises(Exception, match="over the limit"):
        keras.saving.load_model(path, safe_mode=True)


def test_labels_in_the_int32_range_but_past_the_class_limit_are_refused():
    import numpy as np

    images = np.zeros((40, 16, 16, 1), "uint8")
    for top in (10**7, 2**31 - 1):
        labels = np.arange(40) % 3
        labels[-1] = top
        with (
            deadline(),
            pytest.raises(ValueError, match="largest label.*over the limit"),
        ):
            kr.load_data((images, labels), batch_size=2)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rand-augment", "100000"], r"`rand_augment` must lie in \[0, 11\]"),
        (["--batch-size", "1000000000"], r"`batch_size` must lie in \[1, 65536\]"),
        (["--classes", "1000000000"], "over the limit of 1000000 classes"),
        (["--rand-augment-magnitude", "0"], r"`rand_augment_magnitude` must lie in"),
    ],
)
def test_cli_sizes_that_hung_a_run_answer_at_once(tmp_path, capsys, argv, message):
    from keras_residual.cli import main

    with deadline(60):
        code = main(["train", "--out", str(tmp_path / "run"), "--epochs", "1", *argv])
    assert code == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "run" / "run.json").exists()


# 2: a TFLite graph that runs out of order is refused before the interpreter ----


def _tflite_with_pad_and_topk(tmp_path):

    model = small_classifier(5, "padded", padding=2)
    return kr.export(
        model, str(tmp_path / "m.tflite"), "tflite", preprocessing="tf", top_k=2
    )


def _rewired(path, out, opname):
    """`path` with the first `opname` operator reading its own output."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(open(path, "rb").read(), 0)
    codes = {
        index: max(code.builtinCode, code.deprecatedBuiltinCode)
        for index, code in enumerate(model.operatorCodes)
    }
    wanted = getattr(schema.BuiltinOperator, opname)
    graph = model.subgraphs[0]
    operator = next(op for op in graph.operators if codes[op.opcodeIndex] == wanted)
    inputs = list(operator.inputs)
    inputs[0] = int(operator.outputs[0])
    operator.inputs = inputs
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with open(out, "wb") as handle:
        handle.write(builder.Output())
    return out


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


LOAD_EACH = """
import sys
import numpy as np
from keras_residual.serving.predictor import load_predictor
for path in sys.argv[1:]:
    try:
        load_predictor(path).predict_images(np.zeros((2, 16, 16, 1), "uint8"))
        print("served", path)
    except ValueError as error:
        print("refused", error)
"""


# 1: what runs at load time is derived from the file's structure --------------


def _steered_saved_model(folder, route):
    """A SavedModel whose `saver_def.restore_op_name` names a node calling a
    function that TF's loader runs (`route`: a resource initializer of the
    object graph, the init op, or, in a file without an object graph, which
    TF loads as TF1's, the restore op itself), which calls one that writes
    files (SaveV2)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    graph = saved.meta_graphs.add()
    library = graph.graph_def.library
    outer = library.function.add()
    outer.signature.name = "__inference__initialize_7"
    call = outer.node_def.add()
    call.name, call.op = "call", "PartitionedCall"
    call.attr["f"].func.name = "__inference_writer_8"
    inner = library.function.add()
    inner.signature.name = "__inference_writer_8"
    write = inner.node_def.add()
    write.name, write.op = "write", "SaveV2"
    node = graph.graph_def.node.add()
    node.name, node.op = "steer", "StatefulPartitionedCall"
    node.attr["f"].func.name = outer.signature.name
    graph.saver_def.restore_op_name = "steer"
    if route == "init_op":
        init = graph.signature_def["__saved_model_init_op"]
        init.outputs["__saved_model_init_op"].name = "steer"
    elif route == "object_graph":
        graph.object_graph_def.concrete_functions[outer.signature.name].SetInParent()
    os.makedirs(folder)
    with open(os.path.join(folder, "saved_model.pb"), "wb") as handle:
        handle.write(saved.SerializeToString())
    return folder


@pytest.mark.parametrize("route", ["object_graph", "init_op", "tf1_restore"])
def test_the_saver_def_cannot_steer_what_may_write_files(tmp_path, route):
    from keras_residual.serving.graph_check import check_saved_model

    folder = _steered_saved_model(str(tmp_path / "steered"), route)
    with pytest.raises(ValueError, match=r"SaveV2.*__inference_writer_8"):
        check_saved_model(folder)


# 5: special files inside a SavedModel or a keras-hub preset -----------------------


def _small_saved_model(folder):

    model = small_classifier(3, "small")
    return kr.export(model, folder, "saved_model", preprocessing="tf")


TRY_EACH = """
import sys
import keras_residual as kr
from keras_residual.serving.predictor import load_predictor
for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        if kind == "preset":
            kr.from_keras_hub(path)
        else:
            load_predictor(path, trust=kind == "trusted")
        print("loaded", path)
    except ValueError as error:
        print("refused", error)
"""


def _refused_in_a_child(*pairs):
    """Loads each `(kind, path)` in a child process (a FIFO blocks inside
    TensorFlow's or h5py's C++ reader, where no signal reaches Python),
    within a deadline; returns its answers."""
    child = run_python(TRY_EACH, *[x for pair in pairs for x in pair], timeout=120)
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    answers = child.stdout.strip().splitlines()[-len(pairs) :]
    assert len(answers) == len(pairs)
    return answers


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


# 6: decompression bombs in a .keras file ------------------------------------------


def _keras_with_member(tmp_path, name, size, byte=b" "):
    """A real `.keras` file with member `name` replaced by (or added as)
    `size` bytes of `byte`, deflated (a few KB on disk)."""
    import zipfile

    path = str(tmp_path / "model.keras")
    tiny_resnet(input_shape=(32, 32, 1), classes=3).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {m: archive.read(m) for m in archive.namelist() if m != name}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
        with archive.open(name, "w", force_zip64=True) as handle:
            chunk = byte * (1 << 20)
            for _ in range(size >> 20):
                handle.write(chunk)
    return path


@pytest.mark.parametrize(
    "member, size, message",
    [
        ("config.json", 80 << 20, "config.json inflates to .* over the limit"),
        ("assets/padding.bin", 300 << 20, "decompression bomb"),
    ],
)
def test_a_keras_file_that_inflates_far_past_its_size_is_refused(
    tmp_path, member, size, message
):
    from keras_residual.serving.predictor import load_predictor

    path = _keras_with_member(tmp_path, member, size)
    assert os.path.getsize(path) < 2 << 20  # the bomb is small on disk
    with deadline(30), pytest.raises(ValueError, match=message):
        load_predictor(path)
    with deadline(30), pytest.raises(ValueError, match=message):
        kr.train(
            "ResNet20", small_digits(), str(tmp_path / "run"), weights=path,
            epochs=1, export=False, verbose=0,
        )  # fmt: skip


def _png_declaring(path, width, height):
    """A tiny PNG file whose header declares `width` x `height` (a real,
    decodable grey image: one IDAT of deflated zero rows)."""
    import struct
    import zlib

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = zlib.compressobj(9)
    raw = b"".join(rows.compress(b"\0" * (width + 1)) for _ in range(height))
    raw += rows.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw)
    with open(path, "wb") as handle:
        handle.write(data + chunk(b"IEND", b""))
    return path


def test_an_image_declaring_too_many_pixels_is_refused_unread(tmp_path):
    import numpy as np
    from PIL import Image

    from keras_residual.data.image_folder import scan_images
    from keras_residual.serving.predictor import read_images

    # Past Pillow's own bound (179 M pixels), and past ours only (67 M).
    for width, height, message in (
        (20000, 20000, "too many pixels"),
        (10000, 9000, "10000 x 9000 pixels, over the limit"),
    ):
        bomb = _png_declaring(str(tmp_path / f"{width}.png"), width, height)
        assert os.path.getsize(bomb) < 2 << 20
        with deadline(20), pytest.raises(ValueError, match=message):
            read_images([bomb], 1)
        failures, _, _ = scan_images([bomb])
        assert failures and message in failures[0][1]
    # A 4000 x 3000 photo still decodes.
    photo = str(tmp_path / "photo.jpg")
    Image.fromarray(np.zeros((3000, 4000, 3), "uint8")).save(photo)
    assert read_images([photo], 3)[0].shape == (3000, 4000, 3)
    assert scan_images([photo])[0] == []


def test_an_animation_whose_frames_together_are_too_many_pixels_is_refused(
    tmp_path,
):
    # TensorFlow decodes every frame of a GIF, each the canvas' size, before
    # keeping the first: 40 frames of 4000 x 4000 (a 0.5 MB file) took
    # 1.9 GB, 400 frames would take 19 GB.
    from PIL import Image

    from keras_residual.data.image_folder import scan_images
    from keras_residual.serving.predictor import read_images

    def animation(path, size, count):
        frames = [Image.new("L", (size, size), 255 * (i % 2)) for i in range(count)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=10)
        return str(path)

    bomb = animation(tmp_path / "bomb.gif", 4000, 6)
    assert os.path.getsize(bomb) < 2 << 20
    message = "an animation of over 4 frames of 4000 x 4000 pixels"
    with deadline(20), pytest.raises(ValueError, match=message):
        read_images([bomb], 1)
    failures, _, _ = scan_images([bomb])
    assert failures and message in failures[0][1]
    # An ordinary animation still decodes (its first frame).
    small = animation(tmp_path / "small.gif", 64, 30)
    assert read_images([small], 1)[0].shape == (64, 64, 1)


# weak: an ONNX export computing NaN is an error, with or without --json ------------


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


# weak: class weights that name a class twice, or weigh every example 0 ------------


def test_class_weights_naming_a_class_twice_or_all_zero_are_refused():
    from keras_residual.data.balance import class_weights

    with pytest.raises(ValueError, match="names class 0 twice"):
        class_weights("0=1,0=2", [5, 5])
    with pytest.raises(ValueError, match="every class of the training data weight 0"):
        class_weights("0=0,1=0", [5, 5])
    with pytest.raises(ValueError, match="every class of the training data weight 0"):
        class_weights({0: 0.0}, [5, 0])  # class 1 has no examples to count
    # Ignoring one class of several is legitimate.
    assert class_weights("0=0", [5, 5]) == {0: 0.0, 1: 1.0}


# weak: evaluate of a model with too few classes; a report over existing files -----


def test_evaluate_names_a_model_with_too_few_classes_and_keeps_existing_reports(
    tmp_path,
):
    from keras_residual.serving.evaluation import evaluate_export

    model = tiny_resnet(input_shape=(32, 32, 1), classes=3, preprocessing="tf")
    path = str(tmp_path / "three.keras")
    model.save(path)  # no card: its class count is read from its outputs
    with pytest.raises(ValueError, match=r"outputs 3 classes; 'digits' has 10"):
        evaluate_export(path, "digits", verbose=0)
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text("my earlier report")
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        evaluate_export(path, "digits", verbose=0, report=str(report))
    assert (report / "report.json").read_text() == "my earlier report"


def test_a_keras_file_of_a_never_called_sequential_is_refused_by_name(tmp_path):

    from keras_residual.serving.predictor import load_predictor

    model = small_classifier(3, "never_called")
    path = str(tmp_path / "seq.keras")
    model.save(path)  # Keras' own save: not through kr.export
    with pytest.raises(ValueError, match="never called"):
        load_predictor(path)


def test_sixteen_bit_image_arrays_are_refused_not_read_as_0_to_255():
    import numpy as np

    labels = np.arange(40) % 2
    wide = np.full((40, 16, 16, 1), 40000, "uint16")
    with pytest.raises(
        ValueError, match=r"dtype uint16 with values in \[40000, 40000\]"
    ):
        kr.load_data((wide, labels), batch_size=8)
    # uint16 arrays that hold 0-255 pixels read as they are.
    assert kr.load_data((wide // 257, labels), batch_size=8).classes == 2


@pytest.mark.parametrize(
    "entry",
    [
        {"learning_rate": [float("inf")]},
        {"learning_rate": [float("nan"), 0.1]},
        {"learning_rate": {"min": 1e-3, "max": float("inf")}},
        {"depth": {"min": 1, "max": 10**30}},
    ],
)
def test_a_search_space_with_non_finite_or_huge_numbers_is_refused_up_front(
    tmp_path, entry
):
    from keras_residual.search.space import SearchSpace

    with pytest.raises(ValueError, match="values must be finite"):
        SearchSpace(entry)
    path = tmp_path / "space.json"  # JSON's 1e999 parses as inf
    path.write_text(json.dumps(entry).replace("Infinity", "1e999"))
    with pytest.raises(ValueError, match="values must be finite"):
        SearchSpace.from_file(str(path))


# weak: GIF, BMP and CMYK JPEG files read like the others ---------------------------


def test_gif_bmp_and_cmyk_jpeg_files_decode_to_the_channels_asked(tmp_path):
    import numpy as np
    from PIL import Image

    from keras_residual.serving.predictor import read_images

    rng = np.random.default_rng(0)
    folder = tmp_path / "grey"
    for c in range(2):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((20, 20)) * 255).astype("uint8")
            suffix = ("png", "gif", "bmp")[i % 3]
            Image.fromarray(pixels).save(folder / f"class{c}" / f"{i}.{suffix}")
    data = kr.load_data(str(folder), batch_size=4, color_mode="grayscale")
    seen = sum(len(labels) for _, labels in data.train)  # a GIF once failed here
    assert seen == data.sizes["train"] and data.image_shape[-1] == 1
    colour = (rng.random((20, 20, 3)) * 255).astype("uint8")
    cmyk = str(tmp_path / "cmyk.jpg")
    Image.fromarray(colour).convert("CMYK").save(cmyk)
    gif = str(tmp_path / "colour.gif")
    Image.fromarray(colour).save(gif)
    for path in (cmyk, gif):
        for channels in (1, 3):
            assert read_images([path], channels)[0].shape == (20, 20, channels)


# 6: every kernel charged to the weight limit before it is allocated ---------------


def _charged_weights(model):
    """The entries of every kernel, embedding and token (the variables of
    rank 2 or more, biases of attention aside): what the limit covers."""
    return sum(
        int(np.prod(v.shape))
        for v in model.weights
        if len(v.shape) >= 2 and not v.path.endswith("bias")
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: kr.ResNet50(weights=None, input_shape=(64, 64, 3), classes=7),
        lambda: kr.DenseNet121(weights=None, input_shape=(64, 64, 3), classes=7),
        lambda: kr.SEResNet50(input_shape=(64, 64, 3), classes=7, attention="eca"),
        lambda: kr.ResNeXt50_32x4d(input_shape=(64, 64, 3), classes=7),
        lambda: kr.ViTTiny16(input_shape=(32, 32, 3), classes=7),
        lambda: kr.HighwayNet20(input_shape=(32, 32, 1), classes=7),
        lambda: kr.ResNet18(input_shape=(4000, 1), classes=7),
    ],
    ids=["resnet50", "densenet121", "eca", "resnext", "vit", "highway", "1d"],
)
def test_the_weight_limit_counts_every_kernel_of_every_family(build, monkeypatch):
    from keras_residual.core.limits import LIMITS

    kernels = _charged_weights(build())
    monkeypatch.setitem(LIMITS, "weights", kernels)
    build()  # exactly at the limit: builds
    monkeypatch.setitem(LIMITS, "weights", kernels - 1)
    with pytest.raises(ValueError, match=r"over the limit of .*LIMITS\['weights'\]"):
        build()


GIANT_CLASSIFIER = """
import resource, sys
import keras_residual as kr
try:
    kr.ResNet50(weights=None, input_shape=(32, 32, 3), classes=600_000)
    print("built")
except ValueError as error:
    print("refused", error)
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.xdist_group("subprocess")
def test_a_classifier_of_gigabytes_is_refused_before_it_is_allocated():
    # 2048 features x 600,000 classes: within the class limit, but one
    # 4.6 GiB kernel (1.2e9 weights) past the model's weight limit.
    child = run_python(GIANT_CLASSIFIER, timeout=120)
    lines = child.stdout.strip().splitlines()
    assert lines[-2].startswith("refused Layer 'predictions'"), child.stdout[-2000:]
    assert "(2048, 600000) kernel" in lines[-2]
    assert int(lines[-1].split()[1]) < 2048, lines[-1]  # MiB: never allocated
