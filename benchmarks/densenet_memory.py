"""Memory-efficient DenseNet: peak memory and step time of DenseNet-BC-100
training (batch 64, 32x32), plain against `memory_efficient=True`.

    python -m benchmarks.densenet_memory [--runs 3] [--smoke]

Each measurement is a fresh subprocess (peak memory only grows within a
process), alternating plain and memory-efficient. A run builds the model,
records its resident memory, trains `--steps` steps, and reports the step
time (median, after warm-up) and the peak resident memory above the
pre-training baseline. The goal (issue #3) is >= 30% less peak training
memory for <= 30% more time; Pleiss et al. 2017 report 2.86 -> 1.61 GB for
15-20% more time on a GPU.
"""

import argparse
import json
import resource
import statistics
import time

from benchmarks.common import child_json
from benchmarks.common import current_rss_mb
from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_run(memory_efficient, batch, steps, warmup, depths=None):
    """Runs inside the child process; prints one JSON line."""
    import keras
    import numpy as np

    import keras_residual

    keras.utils.set_random_seed(0)
    overrides = {"depths": depths} if depths else {}
    model = keras_residual.DenseNetBC100(memory_efficient=memory_efficient, **overrides)
    model.compile(
        keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy"
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, batch)
    baseline = current_rss_mb()
    peak_before = peak_rss_mb()
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "memory_efficient": memory_efficient,
                "step_seconds": statistics.median(times),
                "baseline_mb": baseline,
                "peak_mb": peak_rss_mb(),
                "training_peak_mb": peak_rss_mb() - max(baseline, peak_before),
            }
        )
    )


def measure(variant, args):
    depths = ["--depths", args.depths] if args.depths else []
    return child_json(
        "benchmarks.densenet_memory",
        "--child",
        variant,
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        *depths,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", choices=("plain", "efficient"))
    parser.add_argument(
        "--depths",
        help="Layers per dense block, e.g. 2,2,2 "
        "(smoke runs). Defaults to the model's.",
    )
    args = parser.parse_args(argv)
    if args.child:
        depths = tuple(int(d) for d in args.depths.split(",")) if args.depths else None
        one_run(args.child == "efficient", args.batch, args.steps, args.warmup, depths)
        return None
    if args.smoke:
        args.runs, args.batch, args.steps, args.warmup = 1, 4, 1, 1
        args.depths = "2,2,2"
    runs = {"plain": [], "efficient": []}
    for _ in range(args.runs):
        for variant in runs:
            runs[variant].append(measure(variant, args))
    summary = {
        variant: {
            "step_seconds": summarize([r["step_seconds"] for r in results]),
            "training_peak_mb": summarize([r["training_peak_mb"] for r in results]),
            "peak_mb": summarize([r["peak_mb"] for r in results]),
        }
        for variant, results in runs.items()
    }
    plain_peak = summary["plain"]["training_peak_mb"]["median"]
    # A smoke run's few tiny steps may not raise the peak at all: no ratio.
    memory_ratio = (
        summary["efficient"]["training_peak_mb"]["median"] / plain_peak
        if plain_peak > 0
        else None
    )
    time_ratio = (
        summary["efficient"]["step_seconds"]["median"]
        / summary["plain"]["step_seconds"]["median"]
    )
    result = {
        "benchmark": "densenet_memory",
        "hardware": hardware(),
        "settings": {k: v for k, v in vars(args).items() if k != "child"},
        "summary": summary,
        "runs": runs,
        "training_memory_ratio_efficient_over_plain": memory_ratio,
        "step_time_ratio_efficient_over_plain": time_ratio,
    }
    print(json.dumps(result, indent=2))
    print(
        f"peak training memory, efficient / plain: {ratio(memory_ratio, 3)} "
        "(goal <= 0.70)"
    )
    print(f"step time, efficient / plain: {ratio(time_ratio, 3)} (goal <= 1.30)")
    write_result("densenet_memory", result, smoke=args.smoke)
    return result


def table_rows(result):
    summary = result["summary"]
    return [
        {
            "benchmark": "DenseNet-BC-100 training, batch 64, 32×32",
            "measure": "peak training memory",
            "ours": "memory_efficient "
            f"{summary['efficient']['training_peak_mb']['median']:.0f} MB",
            "peer": f"plain {summary['plain']['training_peak_mb']['median']:.0f} MB",
            "ratio": ratio(result["training_memory_ratio_efficient_over_plain"]),
            "target": "≤ 0.70×",
        },
        {
            "benchmark": "DenseNet-BC-100 training, batch 64, 32×32",
            "measure": "step time",
            "ours": f"{summary['efficient']['step_seconds']['median']:.2f} s",
            "peer": f"{summary['plain']['step_seconds']['median']:.2f} s",
            "ratio": ratio(result["step_time_ratio_efficient_over_plain"]),
            "target": "≤ 1.30×",
        },
    ]


if __name__ == "__main__":
    main()
