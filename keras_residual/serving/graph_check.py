"""Inspecting a SavedModel's graph before it runs, as Keras' `safe_mode`
does for `.keras` files: a SavedModel is a program, and one another machine
wrote may read or write files. Its serving functions may use only the
tensor ops of an allow-list, and so may every function TF's loader runs
by itself (resource initializers, the main op), and no function anywhere
in it may use an op that opens files or runs Python. `trust=True` skips
the check."""

import os

from keras_residual.utils.files import check_regular_files
from keras_residual.utils.validation import first_line

# Pure tensor ops: what this package's exports use, and their kin.
ALLOWED_OPS = frozenset(
    """
    Abs Add AddN AddV2 ArgMax ArgMin AvgPool BatchMatMulV2 BiasAdd
    BroadcastArgs BroadcastTo Cast Ceil ClipByValue ConcatV2 Const Conv2D
    Cumsum DepthwiseConv2dNative Einsum Elu EnsureShape Equal Erf Exp
    ExpandDims Fill Floor FloorDiv FloorMod FusedBatchNormV3 GatherV2 Greater
    GreaterEqual Identity IdentityN If LeakyRelu Less LessEqual Log
    LogicalAnd LogicalNot LogicalOr MatMul Max MaxPool Maximum Mean Min
    Minimum MirrorPad Mul Neg NoOp NotEqual OneHot OnesLike Pack Pad PadV2
    PartitionedCall Placeholder Pow Prod Range ReadVariableOp RealDiv Relu
    Relu6 Reshape ResizeBicubic ResizeBilinear ResizeNearestNeighbor Round
    Rsqrt Select SelectV2 Selu Shape Sigmoid Sign Slice Softmax Softplus
    Split SplitV Sqrt Square SquaredDifference Squeeze StatefulPartitionedCall
    StatelessIf StopGradient StridedSlice Sub Sum Tanh Tile TopKV2 Transpose
    Unpack VarHandleOp ZerosLike
    """.split()
)
# Ops that touch files or run Python: refused in any function of the model
# (the checkpoint ops SaveV2/RestoreV2 of its own variables are not here).
DENIED_ANYWHERE = frozenset(
    """
    ReadFile WriteFile MatchingFiles PyFunc PyFuncStateless EagerPyFunc
    ImmutableConst InitializeTableFromTextFile InitializeTableFromTextFileV2
    TFRecordDataset TFRecordDatasetV2 TextLineDataset FixedLengthRecordDataset
    FixedLengthRecordDatasetV2 WholeFileReader WholeFileReaderV2
    TextLineReader TextLineReaderV2 TFRecordReader TFRecordReaderV2
    CreateSummaryFileWriter WriteSummary WriteScalarSummary WriteImageSummary
    Save SaveSlices
    """.split()
)


# What the SavedModel's own checkpoint functions (`saver_def`, which TF's
# loader does not call) may use besides `ALLOWED_OPS`.
SAVER_OPS = frozenset(
    """
    AssignVariableOp DisableCopyOnRead MergeV2Checkpoints RestoreV2 SaveV2
    ShardedFilename StaticRegexFullMatch StringJoin
    """.split()
)


def check_saved_model(path, trust=False):
    """Refuses a SavedModel that could do more than compute tensors when it
    is loaded or served: every node of its graph and every function of its
    library (the serving functions, and those TF's loader runs itself: the
    object graph's resource initializers and restore functions, the main
    op) may use only the tensor ops of `ALLOWED_OPS`; only the functions
    that just its `saver_def` calls may save and restore its variables
    (`SAVER_OPS`); nothing may use an op of `DENIED_ANYWHERE`; and every
    signature must point at tensors the graph has.

    Args:
        path: str. The SavedModel directory.
        trust: bool. Skip the check (for a model you trust). Defaults to
            `False`.

    Raises:
        ValueError: naming the ops and the function holding the first.
    """
    if trust:
        return
    graph = _read_graph(path)
    _check_signature_targets(path, graph)
    saver = _saver_functions(graph)
    found = {}
    for op, where in _all_ops(graph):
        allowed = ALLOWED_OPS | SAVER_OPS if where in saver else ALLOWED_OPS
        if op not in allowed or op in DENIED_ANYWHERE:
            found.setdefault(op, where)
    if found:
        first = sorted(found)[0]
        raise ValueError(
            f"The SavedModel {path!r} uses ops outside the allow-list of "
            f"tensor ops: {sorted(found)} ({first!r} in {found[first]!r}). Such "
            "ops can read or write files or run code when the model is loaded "
            "or runs. If you trust where it came from, pass trust=True "
            "(`--trust-model`)."
        )


def _check_signature_targets(path, graph):
    """Every signature's inputs and outputs name nodes of the graph."""
    nodes = {node.name for node in graph.graph_def.node}
    for key, signature in graph.signature_def.items():
        for info in (*signature.inputs.values(), *signature.outputs.values()):
            name = info.name.lstrip("^").split(":")[0]
            if name not in nodes:
                raise ValueError(
                    f"The SavedModel {path!r} is malformed: its signature "
                    f"{key!r} names the tensor {info.name!r}, which its graph "
                    "lacks."
                )


def _read_graph(path):
    from tensorflow.core.protobuf import saved_model_pb2  # lazy: TF only

    model = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
            model.ParseFromString(handle.read())
    except Exception as error:  # protobuf's DecodeError, OSError
        raise ValueError(
            f"{path!r} is not a loadable SavedModel: its saved_model.pb is not "
            f"readable ({type(error).__name__})."
        ) from None
    if len(model.meta_graphs) != 1:
        raise ValueError(
            f"{path!r} holds {len(model.meta_graphs)} meta graphs; an export of "
            "this package holds one."
        )
    return model.meta_graphs[0]


def _function_refs(node):
    for attr in node.attr.values():
        if attr.HasField("func"):
            yield attr.func.name
        yield from (function.name for function in attr.list.func)


def _called(graph, roots):
    """Every function the `roots` (node defs) call, directly or not."""
    library = {f.signature.name: f for f in graph.graph_def.library.function}
    pending = [name for node in roots for name in _function_refs(node)]
    called = set()
    while pending:
        name = pending.pop()
        if name in called or name not in library:
            continue
        called.add(name)
        pending.extend(
            ref for node in library[name].node_def for ref in _function_refs(node)
        )
    return called


def _saver_functions(graph):
    """The functions that only the `saver_def`'s save and restore nodes
    call, which TF's loader never runs. What the loader runs is derived
    from the file's structure, not from the names it gives: every node a
    signature names (the `__saved_model_init_op` among them) is a loader
    node even if the `saver_def` names it too, and every function of the
    object graph (resource initializers, restore functions) is run with
    everything it calls, however deep. A function anything else reaches is
    an ordinary one. Without an object graph TF's loader takes the file
    for a TF1 SavedModel (`load_v1_in_v2`) and runs the `saver_def`'s
    restore op itself: then nothing is saver-only."""
    if not graph.HasField("object_graph_def"):
        return set()
    loader_nodes = {
        info.name.lstrip("^").split(":")[0]
        for signature in graph.signature_def.values()
        for info in (*signature.inputs.values(), *signature.outputs.values())
    }
    saver_nodes = (
        {
            graph.saver_def.save_tensor_name.split(":")[0],
            graph.saver_def.restore_op_name.split(":")[0],
        }
        - {""}
        - loader_nodes
    )
    nodes = graph.graph_def.node
    ours = _called(graph, [n for n in nodes if n.name in saver_nodes])
    others = _called(graph, [n for n in nodes if n.name not in saver_nodes])
    library = {f.signature.name: f for f in graph.graph_def.library.function}
    loaded = set(graph.object_graph_def.concrete_functions)
    others |= loaded | _called(
        graph, [n for name in loaded if name in library for n in library[name].node_def]
    )
    return ours - others


def _all_ops(graph):
    """`(op, where)` for every node of the graph and of every function."""
    for node in graph.graph_def.node:
        yield node.op, "the graph"
    for function in graph.graph_def.library.function:
        for node in function.node_def:
            yield node.op, function.signature.name


def load_checked_saved_model(path, trust=False):
    """`tf.saved_model.load(path)` after the checks every reader of an
    export makes: regular files only (a FIFO or a link to /dev/zero hangs
    TF's reader, trusted or not), then `check_saved_model`; a file TF
    cannot parse is a `ValueError` naming it.

    Args:
        path: str. The SavedModel directory.
        trust: bool. Skip the op check (see `check_saved_model`). Defaults
            to `False`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    check_regular_files(path, "SavedModel file")
    check_saved_model(path, trust=trust)
    try:
        return tf.saved_model.load(path)
    except Exception as error:  # corrupt protobufs raise many types
        raise ValueError(
            f"{path!r} is not a loadable SavedModel ({type(error).__name__}"
            f": {first_line(error)})."
        ) from None
