"""Input pipeline throughput against model training throughput: the
pipeline must be >= 5x faster than the model it feeds, so that it is never
the bottleneck.

Two cases, each measured in one process:

- the embedded digits (`load_data("digits")`, crop augmentation, batch 128)
  against ResNet20 training at 32x32;
- a folder of JPEG files decoded every epoch (`load_data(folder,
  image_size=224)`, no cache, crop and flip, batch 32) against ResNet50
  training at 224x224.

Models are compiled with the recipe under `precision="auto"` and timed per
step on synthetic batches; the pipeline is timed by iterating its batches
after one warm-up pass. Medians over --rounds.

    python -m benchmarks.input_pipeline
    python -m benchmarks.input_pipeline --smoke
"""

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import alternating_training_rates
from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import synthetic_dataset
from benchmarks.common import write_result


def write_jpegs(folder, count, size, classes=4):
    """Writes `count` smooth random RGB JPEGs into class sub-folders."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for index in range(count):
        label = f"class{index % classes}"
        os.makedirs(os.path.join(folder, label), exist_ok=True)
        coarse = rng.uniform(0, 255, (1, 8, 8, 3)).astype("float32")
        image = tf.image.resize(coarse, (size, size))[0]
        tf.io.write_file(
            os.path.join(folder, label, f"{index}.jpg"),
            tf.io.encode_jpeg(tf.cast(image, tf.uint8), quality=90),
        )


def pipeline_images_per_second(dataset, batches, rounds):
    for _ in dataset.take(batches):  # warm-up (and fill caches)
        pass
    rates = []
    for _ in range(rounds):
        seen, start = 0, time.perf_counter()
        for images, _ in dataset.take(batches):
            seen += int(images.shape[0])
        rates.append(seen / (time.perf_counter() - start))
    return summarize(rates)


def model_images_per_second(name, case, steps, rounds):
    import keras

    import keras_residual as kr
    from keras_residual.training.precision import resolve_precision

    policy = resolve_precision("auto")
    keras.config.set_dtype_policy(policy)
    try:
        model = kr.build(
            name,
            input_shape=(case["size"], case["size"], case["channels"]),
            classes=case["classes"],
        )
    finally:
        keras.config.set_dtype_policy("float32")
    recipe = kr.get_recipe("fast", batch_size=case["batch"])
    model.compile(**recipe.compile_kwargs(model, steps_per_epoch=100))
    rates = alternating_training_rates(
        {name: model}, synthetic_dataset(case), case["batch"], rounds, steps
    )
    return rates[name], policy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--images", type=int, default=512, help="JPEG files in the 224x224 case."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    rounds = 1 if args.smoke else args.rounds

    import keras_residual as kr

    cases = {}
    digits = kr.load_data("digits", batch_size=128, augment="crop")
    cases["digits -> ResNet20"] = {
        "pipeline": pipeline_images_per_second(
            digits.train, 2 if args.smoke else 9, rounds
        ),
        "model": model_images_per_second(
            "ResNet20",
            {
                "size": 32,
                "channels": 1,
                "classes": 10,
                "batch": 8 if args.smoke else 128,
            },
            1 if args.smoke else 10,
            rounds,
        ),
    }
    with tempfile.TemporaryDirectory() as folder:
        count = 16 if args.smoke else args.images
        size = 64 if args.smoke else 224
        write_jpegs(folder, count, size + size // 7)
        jpegs = kr.load_data(
            folder,
            batch_size=8 if args.smoke else 32,
            image_size=size,
            augment="crop_flip",
            cache=False,
            validation_fraction=0.0,
        )
        big_model = "ResNet20" if args.smoke else "ResNet50"  # smoke: cheap
        cases[f"JPEG folder -> {big_model}"] = {
            "pipeline": pipeline_images_per_second(
                jpegs.train, count // (8 if args.smoke else 32), rounds
            ),
            "model": model_images_per_second(
                big_model,
                {
                    "size": size,
                    "channels": 3,
                    "classes": 4,
                    "batch": 2 if args.smoke else 32,
                },
                1 if args.smoke else 3,
                rounds,
            ),
        }
    result = {"hardware": hardware(), "rounds": rounds, "cases": {}}
    for label, case in cases.items():
        model, policy = case["model"]
        share = case["pipeline"]["median"] / model["median"]
        result["cases"][label] = {
            "pipeline_images_per_second": case["pipeline"],
            "model_images_per_second": model,
            "precision": policy,
            "pipeline_over_model": share,
        }
        print(
            f"{label:<26} pipeline {case['pipeline']['median']:9.0f} img/s  "
            f"model {model['median']:8.1f} img/s ({policy})  "
            f"ratio {share:.1f}x (target >= 5)",
            flush=True,
        )
    print("wrote", write_result("input_pipeline", result, smoke=args.smoke))
    return result


def table_rows(result):
    return [
        {
            "benchmark": f"Input pipeline, {label}",
            "measure": "images/s, pipeline vs model training",
            "ours": f"{case['pipeline_images_per_second']['median']:.0f} img/s",
            "peer": f"model {case['model_images_per_second']['median']:.1f} img/s "
            f"({case['precision']})",
            "ratio": ratio(case["pipeline_over_model"], 1),
            "target": "≥ 5×",
        }
        for label, case in result["cases"].items()
    ]


if __name__ == "__main__":
    main()
