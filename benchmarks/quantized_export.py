"""Quantized TFLite exports of the shipped digits models against their
float32 TFLite export, side by side in one process: file size, test
accuracy on the 359 embedded test digits, and `serving_default` latency at
batch 1 (uint8 in), as the median over interleaved rounds.

    python -m benchmarks.quantized_export          # the three digits models
    python -m benchmarks.quantized_export --smoke  # ResNet20, float32 and dynamic
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

MODELS = ("ResNet20", "HighwayNet20", "DenseNetBC100")
MODES = (None, "dynamic", "float16", "int8")


def _latency(runner, images, calls):
    started = time.perf_counter()
    for _ in range(calls):
        runner(images=images)
    return (time.perf_counter() - started) / calls


def measure(name, data, modes, rounds, calls):
    """Size, accuracy and batch-1 latency of each quantization of `name`."""
    import tensorflow as tf

    import keras_residual as kr
    from keras_residual.serving.model_card import read_model_card

    model = kr.build(name, weights="digits")
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 1)).astype("uint8")
    variants, runners = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            label = mode or "float32"
            path = kr.export(
                model,
                f"{tmp}/{label}.tflite",
                "tflite",
                quantize=mode,
                representative_data=data,
            )
            card = read_model_card(path)["quantization"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                interpreter = tf.lite.Interpreter(model_path=path)
            runners[label] = interpreter.get_signature_runner("serving_default")
            runners[label](images=image)  # warm-up
            variants[label] = {
                "size_bytes": card["size_bytes"],
                "test_accuracy": card["test_accuracy"],
            }
        samples = {label: [] for label in runners}
        for _ in range(rounds):
            for label, runner in runners.items():
                samples[label].append(_latency(runner, image, calls))
    for label, values in samples.items():
        variants[label]["latency_b1_seconds"] = summarize(values)
    reference = variants["float32"]
    for figures in variants.values():
        figures["size_ratio_vs_float32"] = (
            figures["size_bytes"] / reference["size_bytes"]
        )
        figures["accuracy_change_vs_float32"] = (
            figures["test_accuracy"] - reference["test_accuracy"]
        )
        figures["speedup_b1_vs_float32"] = (
            reference["latency_b1_seconds"]["median"]
            / figures["latency_b1_seconds"]["median"]
        )
    return variants


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)

    import keras_residual as kr

    models = MODELS[:1] if args.smoke else MODELS
    modes = (None, "dynamic") if args.smoke else MODES
    rounds, calls = (1, 2) if args.smoke else (args.rounds, args.calls)
    data = kr.load_data("digits", augment="none")
    results = {name: measure(name, data, modes, rounds, calls) for name in models}
    for name, variants in results.items():
        for label, figures in variants.items():
            print(
                f"{name:<14} {label:<8} {figures['size_bytes'] / 1024:8.1f} kB "
                f"({figures['size_ratio_vs_float32']:.2f}x)  accuracy "
                f"{figures['test_accuracy']:.4f} "
                f"({figures['accuracy_change_vs_float32'] * 100:+.2f} pt)  "
                f"batch 1 {figures['latency_b1_seconds']['median'] * 1e3:.3f} ms "
                f"({figures['speedup_b1_vs_float32']:.2f}x)"
            )
    result = {
        "hardware": hardware(),
        "rounds": rounds,
        "calls_per_round": calls,
        "models": results,
    }
    print("wrote", write_result("quantized_export", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    for name, variants in result["models"].items():
        for label, figures in variants.items():
            if label == "float32":
                continue
            rows.append(
                {
                    "benchmark": f"{name} TFLite {label} (digits, 32×32×1)",
                    "measure": "size; test accuracy; batch-1 latency vs float32",
                    "ours": f"{figures['size_bytes'] / 1024:.0f} kB; "
                    f"{figures['test_accuracy'] * 100:.2f}%",
                    "peer": f"float32 {variants['float32']['size_bytes'] / 1024:.0f}"
                    f" kB; {variants['float32']['test_accuracy'] * 100:.2f}%",
                    "ratio": f"size {ratio(figures['size_ratio_vs_float32'])}, "
                    f"speed {ratio(figures['speedup_b1_vs_float32'])}",
                    "target": "int8 ≈ 0.25× size" if label == "int8" else "—",
                }
            )
    return rows


if __name__ == "__main__":
    main()
