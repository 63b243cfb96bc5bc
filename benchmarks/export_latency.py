"""Serving latency of an export against Keras in the same process: the
SavedModel `serve` signature (uint8 in, preprocessing and top-k inside)
against `model.predict` and a direct `model(x)` call, at batch 1 and 32, and
the TFLite `serving_default` signature at batch 1.

Every variant runs in turn within each round (interleaved, so that machine
noise hits them alike); the figure is the median over rounds of each
variant's per-call latency, and ratios are taken against `model.predict`.

    python -m benchmarks.export_latency                 # ResNet20, 32x32x1
    python -m benchmarks.export_latency --model ResNet50 --size 224 --channels 3
    python -m benchmarks.export_latency --smoke
"""

import argparse
import tempfile
import time
import warnings

import numpy as np

from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result


def _latency(function, calls):
    """Seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _variants(model, saved_model, interpreter, batch, size, channels):
    import tensorflow as tf

    images = (
        np.random.default_rng(batch)
        .integers(0, 256, (batch, size, size, channels))
        .astype("uint8")
    )
    inputs = images.astype("float32") / 127.5 - 1.0
    serve = saved_model.signatures["serve"]
    preprocessed = saved_model.signatures["serve_preprocessed"]
    variants = {
        f"keras_predict_b{batch}": lambda: model.predict(inputs, verbose=0),
        f"keras_call_b{batch}": lambda: model(inputs, training=False),
        f"saved_model_serve_b{batch}": lambda: serve(images=tf.constant(images)),
        f"saved_model_preprocessed_b{batch}": lambda: preprocessed(
            inputs=tf.constant(inputs)
        ),
    }
    if interpreter is not None and batch == 1:
        runner = interpreter.get_signature_runner("serving_default")
        variants[f"tflite_serve_b{batch}"] = lambda: runner(images=images)
    return variants


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet20")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--calls", type=int, default=20, help="Calls per variant per round."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    rounds, calls = (2, 2) if args.smoke else (args.rounds, args.calls)

    import tensorflow as tf

    import keras_residual as kr

    model = kr.build(
        args.model, input_shape=(args.size, args.size, args.channels), classes=10
    )
    with tempfile.TemporaryDirectory() as tmp:
        saved_model = tf.saved_model.load(
            kr.export(model, f"{tmp}/sm", preprocessing="tf")
        )
        lite_path = kr.export(
            model, f"{tmp}/m.tflite", format="tflite", preprocessing="tf"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=lite_path, num_threads=None)
        variants = {}
        for batch in (1, 32):
            variants.update(
                _variants(
                    model, saved_model, interpreter, batch, args.size, args.channels
                )
            )
        for function in variants.values():  # warm-up: trace and allocate
            function()
            function()
        samples = {name: [] for name in variants}
        for _ in range(rounds):
            for name, function in variants.items():
                samples[name].append(_latency(function, calls))
    figures = {name: summarize(values) for name, values in samples.items()}
    ratios = {}
    for name, figure in figures.items():
        batch = name.rsplit("_b", 1)[1]
        peer = figures[f"keras_predict_b{batch}"]["median"]
        ratios[f"{name}_speedup_vs_keras_predict"] = peer / figure["median"]
    result = {
        "hardware": hardware(),
        "model": args.model,
        "input": [args.size, args.size, args.channels],
        "rounds": rounds,
        "calls_per_round": calls,
        "latency_seconds": figures,
        "ratios": ratios,
    }
    for name, figure in figures.items():
        print(
            f"{name:<34} {figure['median'] * 1e3:8.2f} ms "
            f"({figure['min'] * 1e3:.2f}-{figure['max'] * 1e3:.2f})"
        )
    for name, value in ratios.items():
        print(f"{name:<58} {value:6.2f}x")
    print(
        "wrote",
        write_result(f"export_latency_{args.model.lower()}", result, smoke=args.smoke),
    )
    return result


def table_rows(result):
    figures, ratios = result["latency_seconds"], result["ratios"]
    rows = []
    for name, label in (
        ("saved_model_serve_b1", "SavedModel serve, batch 1"),
        ("saved_model_serve_b32", "SavedModel serve, batch 32"),
        ("tflite_serve_b1", "TFLite, batch 1"),
    ):
        batch = name.rsplit("_b", 1)[1]
        rows.append(
            {
                "benchmark": f"{result['model']} serving latency, "
                f"{'×'.join(map(str, result['input']))}",
                "measure": label,
                "ours": f"{figures[name]['median'] * 1e3:.2f} ms",
                "peer": f"Keras predict "
                f"{figures[f'keras_predict_b{batch}']['median'] * 1e3:.2f} ms",
                "ratio": ratio(ratios[f"{name}_speedup_vs_keras_predict"]) + " faster",
                "target": "—",
            }
        )
    return rows


if __name__ == "__main__":
    main()
