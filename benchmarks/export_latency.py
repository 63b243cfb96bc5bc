"""Serving latency of the four runtimes side by side in one process: Keras
(`model.predict` and a direct call), the SavedModel's `serve` signature,
TFLite's `serving_default` and ONNX Runtime on the `.onnx` export, at
batch 1 and 32 (uint8 in, preprocessing and top-k inside for the exports).
It also measures BatchNorm folding (`keras_residual/serving/bn_folding.py`):
SavedModel and ONNX exports with `fold_batch_norm=True` against `False`.

Every variant runs in turn within each round (interleaved, so that machine
noise hits them alike); the figure is the median over rounds of each
variant's per-call latency; ratios are against `model.predict`, and the
folded exports against their unfolded twins. Each runtime's top-1 is also
compared with Keras' on all 1,797 digits.

    python -m benchmarks.export_latency                  # the digits models
    python -m benchmarks.export_latency --models ResNet50 --size 224 --channels 3
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

DIGITS_MODELS = ("ResNet20", "HighwayNet20", "DenseNetBC100")
BATCHES = (1, 32)


def _latency(function, calls):
    """Seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _onnx_session(path):
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


class Runtimes:
    """The exports of one model, each as `probabilities(uint8 images)`;
    the SavedModel and ONNX exports with and without BatchNorm folding."""

    def __init__(self, model, tmp):
        import tensorflow as tf

        import keras_residual as kr

        self.model = model
        self.serve = {}
        for label, fold in (("", False), ("_folded", True)):
            path = kr.export(
                model, f"{tmp}/sm{label}", preprocessing="tf", fold_batch_norm=fold
            )
            saved = tf.saved_model.load(path).signatures["serve"]
            self.serve[f"saved_model{label}"] = lambda x, s=saved: s(
                images=tf.constant(x)
            )["probabilities"].numpy()
            try:
                path = kr.export(
                    model, f"{tmp}/m{label}.onnx", "onnx", fold_batch_norm=fold
                )
            except ImportError:  # without the onnx extra
                continue
            session = _onnx_session(path)
            if session is not None:
                self.serve[f"onnx{label}"] = lambda x, s=session: s.run(
                    ["probabilities"], {"images": x}
                )[0]
        lite = kr.export(model, f"{tmp}/m.tflite", "tflite", preprocessing="tf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner = tf.lite.Interpreter(model_path=lite).get_signature_runner(
                "serving_default"
            )
        self.serve["tflite"] = lambda x: runner(images=x)["probabilities"]

    def keras_variants(self, inputs):
        return {
            "keras_predict": lambda: self.model.predict(inputs, verbose=0),
            "keras_call": lambda: self.model(inputs, training=False),
        }


def _agreement(runtimes, pixels):
    """Top-1 agreement with Keras and the largest probability difference."""
    inputs = pixels.astype("float32") / 127.5 - 1.0
    reference = runtimes.model.predict(inputs, verbose=0)
    figures = {}
    for label, serve in runtimes.serve.items():
        rows = [serve(pixels[i : i + 32]) for i in range(0, len(pixels), 32)]
        probabilities = np.concatenate(rows)
        figures[label] = {
            "top1_agreement": float(
                np.mean(probabilities.argmax(-1) == reference.argmax(-1))
            ),
            "max_abs_difference": float(np.abs(probabilities - reference).max()),
        }
    return figures


def measure(model, pixels, rounds, calls):
    """Latency of every runtime at each batch size, and agreement."""
    with tempfile.TemporaryDirectory() as tmp:
        runtimes = Runtimes(model, tmp)
        variants = {}
        for batch in BATCHES:
            images = pixels[:batch]
            inputs = images.astype("float32") / 127.5 - 1.0
            for label, function in runtimes.keras_variants(inputs).items():
                variants[f"{label}_b{batch}"] = function
            for label, serve in runtimes.serve.items():
                variants[f"{label}_serve_b{batch}"] = (
                    lambda serve=serve, images=images: serve(images)
                )
        for function in variants.values():  # warm-up: trace and allocate
            function()
            function()
        samples = {name: [] for name in variants}
        for _ in range(rounds):
            for name, function in variants.items():
                samples[name].append(_latency(function, calls))
        agreement = _agreement(runtimes, pixels) if len(pixels) > 32 else {}
    figures = {name: summarize(values) for name, values in samples.items()}
    ratios = {}
    for name, figure in figures.items():
        batch = name.rsplit("_b", 1)[1]
        peer = figures[f"keras_predict_b{batch}"]["median"]
        ratios[f"{name}_speedup_vs_keras_predict"] = peer / figure["median"]
        if "_folded_" in name:
            twin = figures[name.replace("_folded", "")]["median"]
            ratios[f"{name}_speedup_vs_unfolded"] = twin / figure["median"]
    return {"latency_seconds": figures, "ratios": ratios, "agreement": agreement}


def _digits_pixels(size, channels):
    from keras_residual.data import load_digits_arrays

    arrays = load_digits_arrays()
    images = np.concatenate([arrays[split][0] for split in sorted(arrays)])
    pixels = np.round(images).astype("uint8")
    if pixels.shape[1:] != (size, size, channels):
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (64, size, size, channels)).astype("uint8")
    return pixels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DIGITS_MODELS))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--calls", type=int, default=20, help="Calls per variant per round."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    rounds, calls = (1, 1) if args.smoke else (args.rounds, args.calls)
    names = ["ResNet20"] if args.smoke else args.models.split(",")

    import keras_residual as kr
    from keras_residual.serving.bn_folding import foldable_pairs

    pixels = _digits_pixels(args.size, args.channels)
    result = {
        "hardware": hardware(),
        "input": [args.size, args.size, args.channels],
        "rounds": rounds,
        "calls_per_round": calls,
        "models": {},
    }
    for name in names:
        digits = (args.size, args.channels) == (32, 1) and name in DIGITS_MODELS
        if digits:
            model = kr.build(name, weights="digits")
        else:
            shape = (args.size, args.size, args.channels)
            model = kr.build(name, input_shape=shape, classes=10, preprocessing="tf")
        figures = measure(model, pixels, rounds, calls)
        figures["folded_batch_norms"] = count = len(foldable_pairs(model))
        figures["weights"] = "digits" if digits else "random"
        result["models"][name] = figures
        for variant, figure in figures["latency_seconds"].items():
            print(
                f"{name:<14} {variant:<30} {figure['median'] * 1e3:8.3f} ms "
                f"({figure['min'] * 1e3:.3f}-{figure['max'] * 1e3:.3f})"
            )
        for key, value in figures["ratios"].items():
            print(f"{name:<14} {key:<58} {value:6.2f}x")
        for label, agree in figures["agreement"].items():
            print(
                f"{name:<14} {label:<14} top-1 agreement with Keras "
                f"{agree['top1_agreement']:.4f}, max |p - p_keras| "
                f"{agree['max_abs_difference']:.2e}"
            )
        print(f"{name:<14} BatchNorms folded: {count}", flush=True)
    print("wrote", write_result("export_latency", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    for name, figures in result["models"].items():
        latency, ratios = figures["latency_seconds"], figures["ratios"]
        where = f"{name} serving latency, {'×'.join(map(str, result['input']))}"
        for batch in BATCHES:
            peer = latency[f"keras_predict_b{batch}"]["median"]
            for label, title in (
                ("saved_model", "SavedModel serve"),
                ("tflite", "TFLite serving_default"),
                ("onnx", "ONNX Runtime"),
            ):
                key = f"{label}_serve_b{batch}"
                if key not in latency:
                    continue
                rows.append(
                    {
                        "benchmark": where,
                        "measure": f"{title}, batch {batch}",
                        "ours": f"{latency[key]['median'] * 1e3:.2f} ms",
                        "peer": f"Keras predict {peer * 1e3:.2f} ms",
                        "ratio": ratio(ratios[f"{key}_speedup_vs_keras_predict"])
                        + " faster",
                        "target": "—",
                    }
                )
            for label in ("saved_model", "onnx"):
                key = f"{label}_folded_serve_b{batch}"
                if key not in latency:
                    continue
                twin = latency[f"{label}_serve_b{batch}"]["median"]
                rows.append(
                    {
                        "benchmark": where,
                        "measure": f"{label} with {figures['folded_batch_norms']} "
                        f"BatchNorms folded, batch {batch}",
                        "ours": f"{latency[key]['median'] * 1e3:.2f} ms",
                        "peer": f"unfolded {twin * 1e3:.2f} ms",
                        "ratio": "speed " + ratio(ratios[f"{key}_speedup_vs_unfolded"]),
                        "target": "fold by default if the median > 1.05×",
                    }
                )
    return rows


if __name__ == "__main__":
    main()
