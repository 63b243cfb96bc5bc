"""ResNet50 build time and training throughput: keras_residual against
keras.applications, measured alternately in one process.

    python -m benchmarks.resnet50_vs_keras_applications [--smoke]

Build: both models are built alternately `--build-runs` times (after a
warm-up of each); the ratio is ours / theirs of the median times (target
<= 1.1). Training: both compiled identically (SGD, sparse CE), warmed up,
then timed alternately in `--repeats` rounds of `--steps` steps; the ratio
is ours / theirs of median images/s (target: 1.0 within noise, the graph is
the same).
"""

import argparse
import gc
import json

import keras
import numpy as np

import keras_residual
from benchmarks.common import hardware
from benchmarks.common import summarize
from benchmarks.common import timed
from benchmarks.common import write_result


def builders(size):
    shape = (size, size, 3)
    return {
        "keras.applications": lambda: keras.applications.ResNet50(
            weights=None, input_shape=shape),
        "keras_residual": lambda: keras_residual.ResNet50(input_shape=shape),
    }


def measure_build(runs, size):
    makers = builders(size)
    times = {name: [] for name in makers}
    for name, make in makers.items():  # warm-up
        make()
    for _ in range(runs):
        for name, make in makers.items():
            keras.backend.clear_session()
            gc.collect()
            times[name].append(timed(make))
    return {name: summarize(samples) for name, samples in times.items()}


def measure_training(size, batch, steps, repeats):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 1000, batch)
    models = {}
    for name, make in builders(size).items():
        keras.utils.set_random_seed(0)
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)  # compile and warm up
        model.train_on_batch(x, y)
        models[name] = model
    rates = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            seconds = timed(lambda: [model.train_on_batch(x, y)
                                     for _ in range(steps)])
            rates[name].append(batch * steps / seconds)
    return {name: summarize(samples) for name, samples in rates.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--build-runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true",
                        help="A few tiny steps, to check the script runs.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch, args.steps = 32, 2, 1
        args.repeats, args.build_runs = 1, 1

    build = measure_build(args.build_runs, args.size)
    train = measure_training(args.size, args.batch, args.steps, args.repeats)
    result = {
        "benchmark": "resnet50_vs_keras_applications",
        "hardware": hardware(),
        "settings": vars(args),
        "build_seconds": build,
        "train_images_per_second": train,
        "build_ratio_ours_over_keras": build["keras_residual"]["median"]
        / build["keras.applications"]["median"],
        "train_ratio_ours_over_keras": train["keras_residual"]["median"]
        / train["keras.applications"]["median"],
    }
    print(json.dumps(result, indent=2))
    print(f"build time ratio (ours / keras.applications): "
          f"{result['build_ratio_ours_over_keras']:.3f}  (target <= 1.1)")
    print(f"training images/s ratio (ours / keras.applications): "
          f"{result['train_ratio_ours_over_keras']:.3f}  (target ~1.0)")
    if not args.smoke:
        write_result("resnet50_vs_keras_applications", result)
    return result


if __name__ == "__main__":
    main()
