"""The cost of `train(deterministic=True)`: a ResNet20 on the embedded
digits trained with and without it, in alternating runs of the same
settings, reporting the median wall time of each, their ratio, and whether
the deterministic runs ended with bitwise-equal weights (and the others
did not).

    python -m benchmarks determinism               # 3 runs each, 3 epochs
    python -m benchmarks.determinism --smoke
"""

import argparse
import os
import tempfile
import time

from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result

CONTENDERS = ("deterministic", "default")


def one_run(deterministic, args, folder):
    """(wall seconds of `train`, final weights) of one run."""
    import keras

    import keras_residual as kr

    started = time.perf_counter()
    result = kr.train(
        "ResNet20",
        "digits",
        folder,
        epochs=args.epochs,
        precision="float32",
        deterministic=deterministic,
        export=False,
        tensorboard=False,
        verbose=0,
        model_overrides={"depths": (1, 1, 1)} if args.smoke else None,
    )
    seconds = time.perf_counter() - started
    return seconds, [keras.ops.convert_to_numpy(w) for w in result.model.weights]


def all_equal(weight_lists):
    """True when every run's weights equal the first run's, bit for bit."""
    import numpy as np

    first = weight_lists[0]
    return all(
        all(np.array_equal(a, b) for a, b in zip(first, other))
        for other in weight_lists[1:]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.runs = 1, 2
    seconds = {label: [] for label in CONTENDERS}
    weights = {label: [] for label in CONTENDERS}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for label in CONTENDERS:
                folder = os.path.join(scratch, f"{label}-{run}")
                took, final = one_run(label == "deterministic", args, folder)
                seconds[label].append(took)
                weights[label].append(final)
                print(f"{label:<14} run {run + 1}: {took:6.2f} s", flush=True)
    figures = {label: summarize(samples) for label, samples in seconds.items()}
    cost = figures["deterministic"]["median"] / figures["default"]["median"]
    equal = {label: all_equal(weights[label]) for label in CONTENDERS}
    print(
        f"deterministic / default wall time: {cost:.2f}; bitwise-equal weights "
        f"across runs: deterministic {equal['deterministic']}, default "
        f"{equal['default']}",
        flush=True,
    )
    result = {
        "hardware": hardware(),
        "settings": vars(args),
        "seconds": figures,
        "runs": seconds,
        "ratio": cost,
        "bitwise_equal": equal,
    }
    print("wrote", write_result("determinism", result, smoke=args.smoke))
    return result


def table_rows(result):
    settings = result["settings"]
    equal = result["bitwise_equal"]
    return [
        {
            "benchmark": f"ResNet20 on the digits, {settings['epochs']} epochs, "
            "`deterministic=True` vs the default",
            "measure": f"wall time, median of {settings['runs']} runs; "
            "bitwise-equal weights across runs",
            "ours": f"{result['seconds']['deterministic']['median']:.1f} s; "
            f"equal: {'yes' if equal['deterministic'] else 'no'}",
            "peer": f"default {result['seconds']['default']['median']:.1f} s; "
            f"equal: {'yes' if equal['default'] else 'no'}",
            "ratio": ratio(result["ratio"]),
            "target": "equal; ≤ 1.25×",
        }
    ]


if __name__ == "__main__":
    main()
