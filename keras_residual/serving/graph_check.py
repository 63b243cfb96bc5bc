"""Inspecting a SavedModel's graph before it runs, as Keras' `safe_mode`
does for `.keras` files: a SavedModel is a program, and one another machine
wrote may read or write files. Its serving functions may use only the
tensor ops of an allow-list, and no function anywhere in it may use an op
that opens files or runs Python. `trust=True` skips the check."""

import os

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


def check_saved_model(path, trust=False):
    """Refuses a SavedModel whose serving functions use an op outside
    `ALLOWED_OPS`, or any of whose functions uses one of `DENIED_ANYWHERE`.

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
    serving = _reachable_ops(graph)
    outside = {op: where for op, where in serving.items() if op not in ALLOWED_OPS}
    everywhere = _all_ops(graph)
    denied = {op: where for op, where in everywhere.items() if op in DENIED_ANYWHERE}
    found = {**outside, **denied}
    if found:
        first = sorted(found)[0]
        raise ValueError(
            f"The SavedModel {path!r} uses ops outside the allow-list of "
            f"tensor ops: {sorted(found)} ({first!r} in {found[first]!r}). Such "
            "ops can read or write files or run code when the model runs. "
            "If you trust where it came from, pass trust=True "
            "(`--trust-model`)."
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


def _reachable_ops(graph):
    """`{op: where}` for every op the signatures' outputs depend on,
    following graph inputs and the functions nodes call."""
    nodes = {node.name: node for node in graph.graph_def.node}
    library = {f.signature.name: f for f in graph.graph_def.library.function}
    pending = [
        info.name.split(":")[0]
        for signature in graph.signature_def.values()
        for info in signature.outputs.values()
    ]
    ops, seen, functions = {}, set(), []
    while pending:
        name = pending.pop().lstrip("^").split(":")[0]
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        ops.setdefault(node.op, "the graph")
        pending.extend(node.input)
        functions.extend(_function_refs(node))
    called = set()
    while functions:
        function = functions.pop()
        if function in called or function not in library:
            continue
        called.add(function)
        for node in library[function].node_def:
            ops.setdefault(node.op, function)
            functions.extend(_function_refs(node))
    return ops


def _all_ops(graph):
    ops = {node.op: "the graph" for node in graph.graph_def.node}
    for function in graph.graph_def.library.function:
        for node in function.node_def:
            ops.setdefault(node.op, function.signature.name)
    return ops
