"""Where a training step's time goes: the ops that dominate one framework's
CPU training step, by self time, for the `cpu_training` race's cases.

TensorFlow: our model's `train_on_batch` (or, with `--path fit`, `fit`)
under `tf.profiler`, read back from the XSpace trace (host-side op events,
grouped by op type).
PyTorch: the same case with torchvision / a CIFAR ResNet20 under
`torch.profiler`, grouped by op. Each framework runs in its own process
(a torch-only Python can run the second):

    python -m benchmarks.profile_training --framework tensorflow --model ResNet20
    python -m benchmarks.profile_training --framework tensorflow --path fit
    TORCH_PYTHON -m benchmarks.profile_training --framework torch --model ResNet20
"""

import argparse
import collections
import glob
import os
import tempfile
import time

CASES = {
    "ResNet50": {"size": 224, "batch": 32, "classes": 1000},
    "ResNet20": {"size": 32, "batch": 128, "classes": 10},
}


def _top(totals, steps, count):
    total = sum(totals.values())
    rows = sorted(totals.items(), key=lambda item: -item[1])[:count]
    return total / steps, [(name, value / steps, value / total) for name, value in rows]


def profile_tensorflow(model_name, case, steps, precision, path="train_on_batch"):
    """`(wall seconds per step, {op type: seconds})` of `steps` training
    steps of a registered model (or a `ModelSpec`) through `path`:
    `"train_on_batch"` on tensors, or `"fit"` (one epoch of `steps`
    batches of NumPy arrays)."""
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_residual as kr

    keras.config.set_dtype_policy(precision)
    shape = (case["size"], case["size"], 3)
    model = kr.build(model_name, input_shape=shape, classes=case["classes"])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (steps * case["batch"], *shape)).astype("float32")
    labels = rng.integers(0, case["classes"], steps * case["batch"])
    x, y = tf.constant(images[: case["batch"]]), tf.constant(labels[: case["batch"]])

    def run():
        if path == "fit":
            model.fit(images, labels, batch_size=case["batch"], verbose=0)
        else:
            for _ in range(steps):
                model.train_on_batch(x, y)

    run()  # warm up: trace the step
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        run()
        wall = (time.perf_counter() - started) / steps
        tf.profiler.experimental.stop()
        (trace,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        totals = _xspace_op_times(trace)
    return wall, totals


def _xspace_op_times(path):
    """Total time (seconds) per TensorFlow op type (`scope/name:Type`
    events on the `tf_Compute` threads) of an XSpace trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    totals = collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:  # ops run on the tf_Compute threads
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name or "::" in name:  # runtime bookkeeping
                    continue
                totals[name.rsplit(":", 1)[1]] += event.duration_ps * 1e-12
    return totals


def profile_torch(model_name, case, steps, precision):
    import torch

    from benchmarks.torch_models import build_torch_model

    torch.set_num_threads(os.cpu_count())
    model = build_torch_model(model_name, case["classes"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(case["batch"], 3, case["size"], case["size"])
    y = torch.randint(0, case["classes"], (case["batch"],))
    autocast = precision != "float32"

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as prof:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        wall = (time.perf_counter() - started) / steps
    totals = collections.Counter()
    for event in prof.key_averages():
        totals[event.key] += event.self_cpu_time_total * 1e-6
    return wall, totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("tensorflow", "torch"), required=True)
    parser.add_argument("--model", choices=sorted(CASES), default="ResNet20")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--path",
        choices=("train_on_batch", "fit"),
        default="train_on_batch",
        help="TensorFlow: profile train_on_batch steps or one fit epoch.",
    )
    args = parser.parse_args(argv)
    case = CASES[args.model]
    if args.framework == "tensorflow":
        wall, totals = profile_tensorflow(
            args.model, case, args.steps, args.precision, args.path
        )
    else:
        wall, totals = profile_torch(args.model, case, args.steps, args.precision)
    per_step, rows = _top(totals, args.steps, args.top)
    print(
        f"{args.framework} {args.model} {case} {args.precision} "
        f"({args.path if args.framework == 'tensorflow' else 'step'}): "
        f"step {wall:.3f} s "
        f"wall, {per_step:.3f} s in ops (op time can exceed wall: ops overlap "
        "across threads)"
    )
    for name, seconds, share in rows:
        print(f"  {name:<40} {seconds * 1e3:9.1f} ms/step  {share * 100:5.1f}%")


if __name__ == "__main__":
    main()
