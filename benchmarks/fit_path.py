"""Training speed through `fit` beside `train_on_batch`, ours against
keras.applications, on the same model, data and compile settings, and
through `kr.train` (the package's own training run) beside them.

Both models are compiled alike (SGD with momentum, `jit_compile=False`,
float32), warmed up once through each path, then timed in alternating
rounds: one `fit` epoch over --images NumPy images at --batch, and the
same images as `train_on_batch` calls. The figures are images per second,
medians of --rounds rounds, and the ratios ours / keras.applications per
path. `fit` feeds batches through `tf.data` with an unknown batch size;
`train_on_batch` traces for the exact batch. `kr.train` then trains ours
on the same images (recipe `he2015`: SGD with momentum, no augmentation,
float32, no XLA) for 1 + --rounds epochs; its figure is the median of the
epochs after the first (warmed up), from the run's own `train_seconds`.

    python -m benchmarks.fit_path                       # ResNet50, 224 px, b32
    python -m benchmarks.fit_path --size 96 --batch 16
    python -m benchmarks.fit_path --smoke
"""

import argparse
import functools
import statistics
import tempfile
import time

from benchmarks import models
from benchmarks.common import hardware
from benchmarks.common import imagenet_arrays
from benchmarks.common import ratio
from benchmarks.common import write_result

# "fit": `model.fit` on NumPy arrays, as a user calls it (ours feeds them
# without tf.data's autotuning, core/array_feed.py); "fit_keras_arrays":
# `keras.Model.fit(model, ...)`, Keras' own array feeding for both models;
# "fit_dataset": `fit` on a `tf.data` dataset of the same arrays with
# tf.data's autotuning off (see `dataset_without_autotune`).
PATHS = ("fit", "fit_keras_arrays", "fit_dataset", "train_on_batch")
PATH_LABELS = {
    "fit": "`fit` (NumPy arrays)",
    "fit_keras_arrays": "`fit` (NumPy arrays, Keras' own array feeding)",
    "fit_dataset": "`fit` (tf.data, autotune off)",
    "train_on_batch": "`train_on_batch`",
}


def build(label, size, smoke=False):
    """Ours or keras.applications' ResNet50, compiled as the issue
    measured (one block per stage when `smoke`)."""
    import keras

    builder = models.ours if label == "ours" else models.keras_applications
    model = builder("ResNet50", smoke, input_shape=(size, size, 3))
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    return model


def dataset_without_autotune(images, labels, batch):
    """The arrays as a batched `tf.data` dataset with autotuning off: on a
    2-core CPU, tf.data's autotuner stalled the start of an epoch by about
    9 s on ResNet50 (docs/benchmarks.md, "Through fit")."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)
    return dataset.with_options(options)


def rate(model, path, images, labels, batch):
    """Images per second of one pass over the images through `path`."""
    import keras

    start = time.perf_counter()
    if path in ("fit", "fit_keras_arrays"):
        fit = model.fit if path == "fit" else functools.partial(keras.Model.fit, model)
        fit(images, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    elif path == "fit_dataset":
        model.fit(dataset_without_autotune(images, labels, batch), epochs=1, verbose=0)
    else:
        for i in range(0, len(images), batch):
            model.train_on_batch(images[i : i + batch], labels[i : i + batch])
    return len(images) / (time.perf_counter() - start)


def train_rates(images, labels, batch, rounds, smoke=False):
    """Images per second of each warmed-up epoch of `kr.train` on the
    images: the epochs after the first, as the run measures them (its
    `train_seconds`, the training phase without validation)."""
    import keras_residual as kr

    with tempfile.TemporaryDirectory() as out:
        result = kr.train(
            "ResNet50",
            {"train": (images, labels), "test": (images[:batch], labels[:batch])},
            out + "/run",
            recipe="he2015",
            epochs=1 + rounds,
            batch_size=batch,
            classes=1000,
            augment="none",
            precision="float32",
            jit_compile=False,
            export=False,
            verbose=0,
            model_overrides={"depths": (models.SMOKE_BLOCKS,) * 4} if smoke else None,
        )
    return [row["images_per_second"] for row in result.history[1:]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch, args.images, args.rounds = 32, 4, 8, 1
    images, labels = imagenet_arrays(args.images, args.size)
    built = {label: build(label, args.size, args.smoke) for label in ("ours", "peer")}
    first = images[: args.batch], labels[: args.batch]
    for model in built.values():  # trace both paths before timing
        for path in PATHS:
            rate(model, path, *first, args.batch)
    samples = {(label, path): [] for label in built for path in PATHS}
    for _ in range(args.rounds):
        for label, model in built.items():
            for path in PATHS:
                samples[(label, path)].append(
                    rate(model, path, images, labels, args.batch)
                )
    del built  # free the two ResNet50s before the run builds its own
    train_runs = train_rates(images, labels, args.batch, args.rounds, args.smoke)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    figures = {
        path: {
            "ours": medians[("ours", path)],
            "keras.applications": medians[("peer", path)],
            "ratio": medians[("ours", path)] / medians[("peer", path)],
            "ours_runs": samples[("ours", path)],
            "peer_runs": samples[("peer", path)],
        }
        for path in PATHS
    }
    ours = medians[("ours", "fit")], medians[("ours", "train_on_batch")]
    ours_fit_over_batch = ours[0] / ours[1]
    for path, row in figures.items():
        print(
            f"{path:<15} ours {row['ours']:7.2f} img/s  keras.applications "
            f"{row['keras.applications']:7.2f} img/s  ratio {row['ratio']:.2f}x",
            flush=True,
        )
    print(f"ours: fit / train_on_batch {ours_fit_over_batch:.2f}x", flush=True)
    train_median = statistics.median(train_runs)
    train_over_batch = train_median / ours[1]
    print(
        f"kr.train        ours {train_median:7.2f} img/s  "
        f"kr.train / train_on_batch {train_over_batch:.2f}x",
        flush=True,
    )
    result = {
        "hardware": hardware(),
        "size": args.size,
        "batch": args.batch,
        "images": args.images,
        "rounds": args.rounds,
        "paths": figures,
        "ours_fit_over_train_on_batch": ours_fit_over_batch,
        "kr_train": {
            "ours": train_median,
            "runs": train_runs,
            "over_train_on_batch": train_over_batch,
        },
    }
    print("wrote", write_result("fit_path", result, smoke=args.smoke))
    return result


def table_rows(result):
    setting = f"{result['size']} px, batch {result['batch']}, float32"
    rows = []
    for path, row in result["paths"].items():
        rows.append(
            {
                "benchmark": (
                    f"ResNet50 training through {PATH_LABELS[path]}, {setting}"
                ),
                "measure": f"images/s, median of {result['rounds']} rounds",
                "ours": f"{row['ours']:.2f}",
                "peer": f"keras.applications {row['keras.applications']:.2f}",
                "ratio": ratio(row["ratio"]),
                "target": "≥ 1.15× through fit" if path == "fit" else "—",
            }
        )
    train = result.get("kr_train")
    if train:
        rows.append(
            {
                "benchmark": f"ResNet50 training through `kr.train`, {setting}",
                "measure": f"images/s, median of {result['rounds']} warmed-up epochs",
                "ours": f"{train['ours']:.2f}",
                "peer": "ours through train_on_batch "
                f"{result['paths']['train_on_batch']['ours']:.2f}",
                "ratio": ratio(train["over_train_on_batch"]),
                "target": "≥ 0.90× of train_on_batch",
            }
        )
    return rows


if __name__ == "__main__":
    main()
