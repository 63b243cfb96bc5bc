"""Start-up of training: the seconds of a freshly compiled model's first
`fit` epoch, which include tracing its train step, for ours against
keras.applications on the same model (ResNet50), data and compile settings.

Three contenders, each a fresh model per run, timed in alternating runs:
keras.applications' ResNet50, ours, and ours through Keras' own build path
(the optimizer and metrics created inside the first trace, so TensorFlow
traces the step twice; `core/single_trace.py` builds them first). A run
times the first `fit` epoch over --images NumPy images at --batch, then a
second epoch of the same model; first minus second is the start-up. The
figures are medians of --runs runs. SGD with momentum, accuracy metric,
float32, no XLA.

    python -m benchmarks.first_fit                     # ResNet50, 64 px, b8
    python -m benchmarks.first_fit --size 224 --batch 32 --images 64
    python -m benchmarks.first_fit --smoke
"""

import argparse
import functools
import time

from benchmarks import models
from benchmarks.common import hardware
from benchmarks.common import imagenet_arrays
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result

CONTENDERS = ("keras.applications", "ours", "ours, Keras' build path")


def build(label, size, smoke=False):
    """A compiled ResNet50 of `label` (one of CONTENDERS), one block per
    stage when `smoke`."""
    import keras

    peer = label == "keras.applications"
    builder = models.keras_applications if peer else models.ours
    model = builder("ResNet50", smoke, input_shape=(size, size, 3))
    if label == "ours, Keras' build path":
        model._maybe_symbolic_build = functools.partial(
            keras.Model._maybe_symbolic_build, model
        )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


def one_run(label, images, labels, batch, smoke=False):
    """(first epoch seconds, second epoch seconds) of a fresh model."""
    import keras

    keras.backend.clear_session()
    model = build(label, images.shape[1], smoke)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        model.fit(images, labels, batch_size=batch, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch, args.images, args.runs = 32, 2, 4, 1
    images, labels = imagenet_arrays(args.images, args.size)
    if not args.smoke:
        one_run("ours", images, labels, args.batch)  # warms up TensorFlow itself
    runs = {label: [] for label in CONTENDERS}
    for _ in range(args.runs):
        for label in CONTENDERS:
            runs[label].append(one_run(label, images, labels, args.batch, args.smoke))
    figures = {
        label: {
            "first_epoch_seconds": summarize([first for first, _ in samples]),
            "second_epoch_seconds": summarize([second for _, second in samples]),
            "start_up_seconds": summarize([a - b for a, b in samples]),
        }
        for label, samples in runs.items()
    }
    peer = figures["keras.applications"]["first_epoch_seconds"]["median"]
    for label, figure in figures.items():
        print(
            f"{label:<26} first epoch {figure['first_epoch_seconds']['median']:6.2f}"
            f" s, second {figure['second_epoch_seconds']['median']:6.2f} s, "
            f"start-up {figure['start_up_seconds']['median']:6.2f} s, first / "
            f"keras.applications {figure['first_epoch_seconds']['median'] / peer:.2f}",
            flush=True,
        )
    result = {
        "hardware": hardware(),
        "settings": vars(args),
        "figures": figures,
        "runs": runs,
    }
    print("wrote", write_result("first_fit", result, smoke=args.smoke))
    return result


def table_rows(result):
    settings = result["settings"]
    figures = result["figures"]
    setting = (
        f"ResNet50 first `fit` epoch ({settings['images']} images), "
        f"{settings['size']} px, batch {settings['batch']}, float32"
    )
    peer = figures["keras.applications"]["first_epoch_seconds"]["median"]
    rows = []
    for label in ("ours", "ours, Keras' build path"):
        seconds = figures[label]["first_epoch_seconds"]["median"]
        rows.append(
            {
                "benchmark": setting
                + ("" if label == "ours" else ", ours building while tracing"),
                "measure": f"seconds, median of {settings['runs']} runs "
                "(lower is better)",
                "ours": f"{seconds:.2f} s",
                "peer": f"keras.applications {peer:.2f} s",
                "ratio": ratio(seconds / peer),
                "target": "≤ 0.70×" if label == "ours" else "—",
            }
        )
    return rows


if __name__ == "__main__":
    main()
