"""How fast the command line answers: each command's wall time (median of
alternating runs, in fresh processes as a user runs them) against
`python -c "import tensorflow"`, and how many of TensorFlow's C++ start-up
lines each prints. Light commands (`--help`, `--version`, `models`,
`weights`, `predict` on an `.onnx` model) load no TensorFlow; the others
load it quietly.

    python -m benchmarks cli_startup            # 5 runs each
    python -m benchmarks.cli_startup --smoke
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result

CLI = [sys.executable, "-m", "keras_residual.cli"]
# The commands that load no TensorFlow.
LIGHT = (
    "--help",
    "--version",
    "models",
    "weights ResNet50",
    "predict .onnx",
    "predict .tflite",  # LiteRT (the serve extra) runs it
)
BASELINE = "import tensorflow"
# TensorFlow's C++ start-up lines (oneDNN, CUDA, CPU features, absl).
LOG_MARKERS = ("I0000", "W0000", "E0000", "absl::InitializeLog", "oneDNN")


def exports(folder):
    """An image and a small model's `.onnx`, `.tflite` and SavedModel
    exports in `folder`: `{format: path}` and the image's path."""
    import numpy as np
    from PIL import Image

    import keras_residual as kr

    model = kr.ResNet20(input_shape=(32, 32, 3), classes=10, depths=(1, 1, 1))
    paths = {
        kind: kr.export(model, os.path.join(folder, name), kind, preprocessing="tf")
        for kind, name in (
            ("onnx", "m.onnx"),
            ("tflite", "m.tflite"),
            ("saved_model", "saved"),
        )
    }
    image = os.path.join(folder, "cat.png")
    Image.fromarray(np.zeros((32, 32, 3), "uint8")).save(image)
    return paths, image


def commands(paths, image):
    """`{label: argv}` of the measured commands."""
    return {
        "import tensorflow": [sys.executable, "-c", BASELINE],
        "--help": [*CLI, "--help"],
        "--version": [*CLI, "--version"],
        "models": [*CLI, "models"],
        "weights ResNet50": [*CLI, "weights", "ResNet50"],
        "blocks": [*CLI, "blocks"],
        **{
            f"predict .{kind}": [*CLI, "predict", path, image]
            for kind, path in paths.items()
        },
    }


def one_run(argv):
    """(wall seconds, TensorFlow log lines on stderr, exit code)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    logs = sum(
        any(marker in line for marker in LOG_MARKERS)
        for line in result.stderr.splitlines()
    )
    return seconds, logs, result.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs = 1
    with tempfile.TemporaryDirectory() as scratch:
        measured = commands(*exports(scratch))
        seconds = {label: [] for label in measured}
        logs, codes = {}, {}
        for run in range(args.runs):
            for label, command in measured.items():
                took, lines, code = one_run(command)
                seconds[label].append(took)
                logs[label], codes[label] = lines, code
                print(f"{label:<20} run {run + 1}: {took:6.2f} s, {lines} log lines")
    figures = {label: summarize(samples) for label, samples in seconds.items()}
    baseline = figures["import tensorflow"]["median"]
    ratios = {label: f["median"] / baseline for label, f in figures.items()}
    for label in measured:
        print(
            f"{label:<20} {figures[label]['median']:6.2f} s  {ratios[label]:.2f}x "
            f"import tensorflow  log lines {logs[label]}  exit {codes[label]}"
        )
    result = {
        "hardware": hardware(),
        "settings": vars(args),
        "seconds": figures,
        "runs": seconds,
        "ratios": ratios,
        "log_lines": logs,
        "exit_codes": codes,
    }
    print("wrote", write_result("cli_startup", result, smoke=args.smoke))
    return result


def table_rows(result):
    baseline = result["seconds"]["import tensorflow"]["median"]
    rows = []
    for label, figures in result["seconds"].items():
        if label == "import tensorflow":
            continue
        light = label in LIGHT
        rows.append(
            {
                "benchmark": f"`keras-residual {label}` start to exit",
                "measure": f"wall time, median of {result['settings']['runs']} "
                "fresh processes; TensorFlow C++ log lines printed",
                "ours": f"{figures['median']:.2f} s; "
                f"{result['log_lines'][label]} lines",
                "peer": f"`import tensorflow` {baseline:.2f} s",
                "ratio": ratio(result["ratios"][label]),
                "target": "≤ 0.1×, no TensorFlow" if light else "≤ 1.5×; 0 lines",
            }
        )
    return rows


if __name__ == "__main__":
    main()
