"""Helpers of the safety tests (`tests/test_safety_*.py`): crafted files,
special files, deadlines for reads that once hung, and the child-process
scripts that must not take the test process down."""

import contextlib
import json
import os
import signal

import h5py
import keras
import numpy as np

import keras_residual as kr
from keras_residual.weights import save_legacy_weights
from tests.conftest import TINY
from tests.conftest import run_python
from tests.conftest import small_classifier
from tests.conftest import tiny_resnet


def tiny_model():
    return kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)


def snapshot(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.weights]


def assert_unchanged(model, before):
    for now, then in zip(snapshot(model), before):
        np.testing.assert_array_equal(now, then)


def largest_dataset(path):
    """(offset in the file, byte count) of the largest float dataset."""
    with h5py.File(path, "r") as handle:
        found = []
        handle.visititems(
            lambda name, item: (
                found.append(item)
                if isinstance(item, h5py.Dataset) and item.dtype.kind == "f"
                else None
            )
        )
        biggest = max(found, key=lambda d: d.size)
        if biggest.chunks is None:
            return biggest.id.get_offset(), biggest.id.get_storage_size()
        chunk = biggest.id.get_chunk_info(0)  # our writer chunks (Fletcher-32)
        return chunk.byte_offset, chunk.size


def overwrite_middle(path, data):
    """Writes `data` over the middle of the file's largest float dataset."""
    offset, size = largest_dataset(path)
    with open(path, "r+b") as handle:
        handle.seek(offset + size // 2)
        handle.write(data)


def _edit_legacy_dataset(path, layer, index, make):
    """Replaces weight `index` of `layer` in a legacy file by `make(old)`."""
    with h5py.File(path, "r+") as handle:
        name = handle[layer].attrs["weight_names"][index]
        name = name.decode() if hasattr(name, "decode") else name
        old = handle[layer][name][()]
        del handle[layer][name]
        handle[layer].create_dataset(name, data=make(old))


def legacy_file_with(tmp_path, make_dataset):
    """A legacy weights file of `tiny_model()` whose first kernel is made
    by `make_dataset(group, name, shape)`."""
    model = tiny_model()
    path = str(tmp_path / "crafted.h5")
    save_legacy_weights(model, path)
    with h5py.File(path, "r+") as handle:
        name = handle["conv1_conv"].attrs["weight_names"][0]
        name = name.decode() if hasattr(name, "decode") else name
        shape = handle["conv1_conv"][name].shape
        del handle["conv1_conv"][name]
        make_dataset(handle["conv1_conv"], name, shape, handle)
    return model, path


def image_folder(root, per_class=12, corrupt=()):
    from PIL import Image

    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(per_class):
            Image.new("RGB", (8, 8), (index * 9, 40 if label == "a" else 200, 0)).save(
                root / label / f"{index}.jpg"
            )
    for name in corrupt:
        (root / name).write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG body")
    return root


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "saved_models")


def _saved_model_with_a_load_time_writer(path, victim):
    """A SavedModel whose resource initializer, which TF's loader runs by
    itself, appends to `victim`; its `__saved_model_init_op` signature is
    removed, so that no signature leads to it."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    class Printer(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="")

        def _initialize(self):
            tf.print("appended", output_stream=f"file://{victim}")
            return tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)

    class Innocent(tf.Module):
        def __init__(self):
            self.printer = Printer()

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.uint8)])
        def serve(self, images):
            return {"probabilities": tf.ones([tf.shape(images)[0], 2]) * 0.5}

    module = Innocent()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    proto = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    with open(pb, "rb") as handle:
        proto.ParseFromString(handle.read())
    del proto.meta_graphs[0].signature_def["__saved_model_init_op"]
    with open(pb, "wb") as handle:
        handle.write(proto.SerializeToString())
    return proto


def _alias_level(i):
    """`c: &c [*b, *b, ...]`: each level 9 times the one before."""
    name, previous = chr(98 + i), chr(97 + i)
    return f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"


EXPORT_LOOP = """
import sys
import keras_residual as kr
model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, depths=(1, 1, 1))
path = sys.argv[1]
for index in range(1000):
    kr.export(model, path, "keras", preprocessing="tf", overwrite=True)
    print("exported", index, flush=True)
"""


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


GOOD_STATE = {"epoch": 2, "weights": "epoch-0002.weights.h5", "history": []}


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


def _dataset_names(handle, part):
    import h5py

    names = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and part in name:
            names.append(name)

    handle.visititems(visit)
    return names


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


def _charged_weights(model):
    """The entries of every kernel, embedding and token (the variables of
    rank 2 or more, biases of attention aside): what the limit covers."""
    return sum(
        int(np.prod(v.shape))
        for v in model.weights
        if len(v.shape) >= 2 and not v.path.endswith("bias")
    )


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
