"""Checking a `.tflite` file before TFLite's interpreter reads it: the
interpreter trusts the flatbuffer's offsets and indices, so a truncated or
altered file can crash the process instead of raising. Every table is read
here in Python (where a bad offset raises), every index and size is
checked against what the file holds, and every subgraph's operators must
run in order (no cycles, no tensor written twice)."""

import os

import numpy as np

from keras_residual.serving.tflite_runtime import tflite_schema

# A flatbuffer addresses at most 2 GiB; TFLite's larger models keep their
# buffers after it (`offset`, `size`), which must lie inside the file.
MAX_TFLITE_BYTES = 2**31 - 1 + 2**34
# Bytes per element of TFLite's tensor types (schema `TensorType`).
# (Strings, resources, variants and 4-bit ints are not per element.)
ELEMENT_BYTES = {
    0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16,
    12: 8, 15: 4, 16: 2,
}  # fmt: skip


def check_tflite_file(path):
    """Refuses a `.tflite` file that is not a well-formed TFLite model.

    Args:
        path: str. The file (a regular file; links are resolved).

    Raises:
        ValueError: naming the file and what is wrong.
    """
    schema = tflite_schema()
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise ValueError(f"{path!r} is not a regular file, so not a TFLite model.")
    size = os.path.getsize(real)
    if not 16 <= size <= MAX_TFLITE_BYTES:
        raise ValueError(
            f"{path!r} has {size} bytes; a TFLite model has 16 to "
            f"{MAX_TFLITE_BYTES} bytes."
        )
    with open(real, "rb") as handle:
        data = handle.read(size + 1)
    if len(data) != size or data[4:8] != b"TFL3":
        raise ValueError(
            f"{path!r} is not a TFLite model: it lacks the TFL3 identifier."
        )
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
        problem = _model_problem(model, size)
    except Exception as error:  # out-of-range offsets raise many types
        problem = f"its flatbuffer does not parse ({type(error).__name__})"
    if problem:
        raise ValueError(
            f"{path!r} is not a well-formed TFLite model: {problem}. It is "
            "truncated or was changed; export it again."
        )


def _model_problem(model, file_size):
    """What is wrong with the unpacked `model`, or None."""
    if model.version != 3:
        return f"schema version {model.version}, not 3"
    buffers = model.buffers or []
    for index, buffer in enumerate(buffers):
        if buffer.offset and buffer.offset + buffer.size > file_size:
            return f"buffer {index} lies past the end of the file"
    codes = len(model.operatorCodes or [])
    subgraphs = model.subgraphs or []
    if not subgraphs:
        return "it has no subgraph"
    for s, graph in enumerate(subgraphs):
        tensors = graph.tensors or []
        for t, tensor in enumerate(tensors):
            problem = _tensor_problem(tensor, buffers)
            if problem:
                return f"tensor {t} of subgraph {s}: {problem}"
        count = len(tensors)
        ends = [*_ints(graph.inputs), *_ints(graph.outputs)]
        if any(not 0 <= i < count for i in ends):
            return f"subgraph {s} names a tensor outside its {count}"
        for o, operator in enumerate(graph.operators or []):
            if not 0 <= operator.opcodeIndex < codes:
                return f"operator {o} of subgraph {s} has no operator code"
            used = [*_ints(operator.inputs), *_ints(operator.outputs)]
            if any(not -1 <= i < count for i in used):
                return f"operator {o} of subgraph {s} names a missing tensor"
        problem = _order_problem(graph)
        if problem:
            return f"subgraph {s}: {problem}"
    for signature in model.signatureDefs or []:
        if not 0 <= signature.subgraphIndex < len(subgraphs):
            return "a signature names a missing subgraph"
        count = len(subgraphs[signature.subgraphIndex].tensors or [])
        ends = [*(signature.inputs or []), *(signature.outputs or [])]
        if any(not 0 <= end.tensorIndex < count for end in ends):
            return "a signature names a missing tensor"
    return None


def _order_problem(graph):
    """What breaks the order the interpreter runs `graph` in, or None: each
    tensor written by one operator at most, never a graph input, and read
    only by operators after the one that writes it (an operator reading its
    own output, or a later one's, is a cycle: TFLite's interpreter crashed
    on PAD and TOPK_V2 wired so). Tensors no operator writes are the
    inputs, constants and variables."""
    writer = {}
    for o, operator in enumerate(graph.operators or []):
        for t in _ints(operator.outputs):
            if t == -1:
                continue
            if t in writer:
                return f"operators {writer[t]} and {o} both write tensor {t}"
            writer[t] = o
    for t in _ints(graph.inputs):
        if t in writer:
            return f"operator {writer[t]} writes the input tensor {t}"
    for o, operator in enumerate(graph.operators or []):
        for t in _ints(operator.inputs):
            if writer.get(t, -1) >= o:
                by = "itself" if writer[t] == o else f"operator {writer[t]}"
                return f"operator {o} reads tensor {t} before {by} writes it"
    return None


def _tensor_problem(tensor, buffers):
    """What is wrong with one tensor, or None."""
    if not 0 <= tensor.buffer < max(len(buffers), 1):
        return f"buffer {tensor.buffer} of {len(buffers)}"
    shape = _ints(tensor.shape)
    if any(d < -1 for d in shape):
        return f"shape {shape}"
    if tensor.type not in ELEMENT_BYTES:
        return None  # packed and string types: their sizes are not per element
    held = buffers[tensor.buffer] if buffers else None
    stored = 0 if held is None else (held.size or _length(held.data))
    if stored and tensor.sparsity is None and -1 not in shape:
        expected = int(np.prod(shape, dtype=np.int64)) * ELEMENT_BYTES[tensor.type]
        if stored != expected:
            return f"{stored} bytes of data for shape {shape}"
    return None


def _length(values):
    return 0 if values is None else int(np.asarray(values).size)


def _ints(values):
    return [] if values is None else [int(v) for v in np.asarray(values).ravel()]
