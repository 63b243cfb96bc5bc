"""TensorFlow's CPU kernels: oneDNN's against its own (Eigen's), on the
same training steps, the package's automatic choice beside the plain one.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it loads, so each
contender is a child process (`--child`) started with the switch at 0 or 1;
the children alternate, --runs of each. A child trains each case for a few
warm-up steps, then times --steps steps through `train_on_batch` and prints
the median step. The figure is the median over the runs of each, and the
ratio Eigen / oneDNN (above 1: oneDNN is faster). Where TensorFlow runs
Eigen's kernels by itself (x86-64 CPUs without AVX-512), this says what
opting in to oneDNN (`TF_ENABLE_ONEDNN_OPTS=1`) gains on the machine at
hand (keras_residual/utils/kernel_library.py says why it is not the
default).

    python -m benchmarks.kernel_library
    python -m benchmarks.kernel_library --runs 5 --steps 10
    python -m benchmarks.kernel_library --smoke
"""

import argparse
import functools
import json
import statistics

from benchmarks import models
from benchmarks.common import child_json
from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import synthetic_batch
from benchmarks.common import timed
from benchmarks.common import write_result
from keras_residual.utils.kernel_library import SWITCH
from keras_residual.utils.kernel_library import onednn_enabled

CASES = {
    "ResNet20": {"size": 32, "batch": 128, "classes": 10, "channels": 3},
    "ResNet50": {"size": 96, "batch": 16, "classes": 1000, "channels": 3},
}
SMOKE_CASES = {"ResNet20": {"size": 32, "batch": 4, "classes": 10, "channels": 3}}
SWITCH_VALUES = {"eigen": "0", "onednn": "1"}


def child(cases, steps, warmup, smoke=False):
    """Median training-step seconds of each case, in this process (one
    block per stage when `smoke`)."""
    import keras

    seconds = {}
    for name, case in cases.items():
        model = models.ours(
            name,
            smoke,
            input_shape=(case["size"], case["size"], case["channels"]),
            classes=case["classes"],
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            jit_compile=False,
        )
        batch = synthetic_batch(case)
        step = functools.partial(model.train_on_batch, *batch)
        times = [timed(step) for _ in range(warmup + steps)]
        seconds[name] = statistics.median(times[warmup:])
        keras.backend.clear_session()
    return {"onednn": onednn_enabled(), "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = SMOKE_CASES if args.smoke else CASES
    if args.smoke:
        args.runs, args.steps, args.warmup = 1, 1, 1
    if args.child:
        print(json.dumps(child(cases, args.steps, args.warmup, args.smoke)))
        return None
    options = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    options += ["--smoke"] if args.smoke else []
    runs = {label: [] for label in SWITCH_VALUES}
    for _ in range(args.runs):
        for label, value in SWITCH_VALUES.items():
            reply = child_json(
                "benchmarks.kernel_library",
                "--child",
                label,
                *options,
                environ={SWITCH: value},
            )
            if reply["onednn"] is not (label == "onednn"):
                raise SystemExit(f"the {label} child ran oneDNN={reply['onednn']}")
            runs[label].append(reply["seconds"])
    figures = {}
    for name in cases:
        medians = {
            label: statistics.median(run[name] for run in samples)
            for label, samples in runs.items()
        }
        figures[name] = dict(
            medians, eigen_over_onednn=medians["eigen"] / medians["onednn"]
        )
        print(
            f"{name:<9} step: Eigen {medians['eigen']:.3f} s, oneDNN "
            f"{medians['onednn']:.3f} s, Eigen / oneDNN "
            f"{figures[name]['eigen_over_onednn']:.2f}x",
            flush=True,
        )
    result = {
        "hardware": hardware(),
        "settings": {"runs": args.runs, "steps": args.steps, "cases": cases},
        "figures": figures,
        "runs": runs,
    }
    print("wrote", write_result("kernel_library", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    for name, figure in result["figures"].items():
        case = result["settings"]["cases"][name]
        rows.append(
            {
                "benchmark": f"{name} training step, {case['size']} px, batch "
                f"{case['batch']}: TensorFlow's CPU kernels "
                f"({result['hardware']['cpu']}, {result['hardware']['cores']} cores)",
                "measure": "seconds per step",
                "ours": f"oneDNN (opt-in) {figure['onednn']:.3f} s",
                "peer": f"Eigen (TensorFlow's own) {figure['eigen']:.3f} s",
                "ratio": ratio(figure["eigen_over_onednn"]),
                "target": "(informs the opt-in)",
            }
        )
    return rows


if __name__ == "__main__":
    main()
