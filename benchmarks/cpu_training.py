"""CPU training race: training images/s of ResNet50 (224 px, batch 32) and
ResNet20 (32 px, batch 128) for the frameworks a user would pick.

Contenders:
- ours on TensorFlow, float32 and `precision="auto"` (the measured choice);
- ours on JAX (XLA), float32 and `mixed_bfloat16`;
- keras.applications ResNet50, float32 (it has no ResNet20);
- torchvision ResNet50 / a CIFAR ResNet20 in PyTorch: float32, bfloat16
  autocast, channels_last, and `torch.compile` where it works on CPU
  (only when torch imports; `--torch-python` names another interpreter).

A Keras backend is fixed per process, so each framework runs in a worker
process that this one drives over a pipe: only one contender runs at a
time, and the contenders take turns in alternating rounds. A round runs
`--steps` training steps (SGD with momentum, cross-entropy, synthetic
data, after warm-up steps) and keeps its median step; the figure is the
median over rounds.

    python -m benchmarks cpu_training
    python -m benchmarks.cpu_training --cases ResNet20 --rounds 5
    python -m benchmarks.cpu_training --torch-python /path/to/venv/bin/python
    python -m benchmarks.cpu_training --cases ResNeXt50_32x4d \
        --frameworks tensorflow,torch --torch-python /path/to/venv/bin/python

A run adds its cases to the result file (a case run again is replaced).
    python -m benchmarks.cpu_training --smoke
"""

import argparse
import json
import os
import subprocess
import sys

from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import results_folder
from benchmarks.common import summarize
from benchmarks.common import write_result

CASES = {
    "ResNet50": {"size": 224, "batch": 32, "classes": 1000},
    "ResNeXt50_32x4d": {"size": 224, "batch": 16, "classes": 1000},
    "ResNet20": {"size": 32, "batch": 128, "classes": 10},
}
SMOKE_CASES = {"ResNet20": {"size": 32, "batch": 4, "classes": 10}}
BASELINE = "ours TF float32"


def _worker_command(framework, torch_python):
    python = torch_python if framework == "torch" and torch_python else sys.executable
    return [python, "-m", "benchmarks.cpu_training_worker", framework]


class Worker:
    """A worker process of one framework, driven by JSON lines."""

    def __init__(self, framework, torch_python=None):
        env = dict(os.environ)
        env["KERAS_BACKEND"] = "jax" if framework == "jax" else "tensorflow"
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.framework = framework
        self.process = subprocess.Popen(
            _worker_command(framework, torch_python),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.framework} worker exited")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.framework} worker: {reply['error']}")
        return reply

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def race(name, case, workers, rounds, steps, warmup):
    """Images/s of every contender of every worker on `case`."""
    contenders, notes = {}, {}
    for worker in workers:
        reply = worker.ask(cmd="setup", model=name, case=case, warmup=warmup)
        for label in reply["contenders"]:
            contenders[label] = worker
        notes.update(reply.get("notes", {}))
        print(f"{name}: {worker.framework} ready: {reply['contenders']}", flush=True)
    samples = {label: [] for label in contenders}
    for index in range(rounds):
        for label, worker in contenders.items():
            step = worker.ask(cmd="time", contender=label, steps=steps)["median_step"]
            samples[label].append(case["batch"] / step)
        print(f"{name}: round {index + 1}/{rounds} done", flush=True)
    for worker in workers:
        worker.ask(cmd="release")
    return {label: summarize(values) for label, values in samples.items()}, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="ResNet50,ResNet20")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="Timed steps per round.")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--frameworks", default="tensorflow,jax,torch")
    parser.add_argument(
        "--torch-python",
        help="A Python with torch and torchvision (and this package's "
        "requirements are not needed there). Defaults to this one.",
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    cases = (
        SMOKE_CASES
        if args.smoke
        else {name: CASES[name] for name in args.cases.split(",")}
    )
    rounds, steps, warmup = (
        (1, 1, 1) if args.smoke else (args.rounds, args.steps, args.warmup)
    )
    frameworks = args.frameworks.split(",")
    if "torch" in frameworks and not _torch_available(args.torch_python):
        print("torch is not installed here: the PyTorch contenders are left out")
        frameworks.remove("torch")
    workers = [Worker(framework, args.torch_python) for framework in frameworks]
    result = {
        "hardware": hardware(),
        "settings": {"rounds": rounds, "steps": steps, "warmup": warmup},
        "cases": {},
    }
    try:
        for name, case in cases.items():
            rates, notes = race(name, case, workers, rounds, steps, warmup)
            fastest = max(rates, key=lambda label: rates[label]["median"])
            reference = BASELINE if BASELINE in rates else next(iter(rates))
            baseline = rates[reference]["median"]
            result["cases"][name] = {
                "case": case,
                "images_per_second": rates,
                "baseline": reference,
                "ratio_vs_baseline": {
                    label: stats["median"] / baseline for label, stats in rates.items()
                },
                "fastest": fastest,
                "notes": notes,
            }
            for label, stats in sorted(rates.items(), key=lambda i: -i[1]["median"]):
                print(
                    f"{name:<9} {label:<34} {stats['median']:8.2f} img/s "
                    f"({stats['median'] / baseline:.2f}x {reference})"
                )
            for label, note in notes.items():
                print(f"{name:<9} note: {label}: {note}")
    finally:
        for worker in workers:
            worker.close()
    if not args.smoke:
        result = _merged_with_earlier_cases(result)
    print("wrote", write_result("cpu_training", result, smoke=args.smoke))
    return result


def _merged_with_earlier_cases(result):
    """`result` plus the cases of the previous result file that it did not
    run again (each case keeps the settings it ran with)."""
    path = os.path.join(results_folder(), "cpu_training.json")
    if not os.path.exists(path):
        return result
    with open(path) as handle:
        earlier = json.load(handle)
    for case in result["cases"].values():
        case["settings"] = result["settings"]
    cases = {
        name: dict(case, settings=case.get("settings", earlier.get("settings")))
        for name, case in earlier.get("cases", {}).items()
    }
    cases.update(result["cases"])
    return dict(result, cases=cases)


def _torch_available(torch_python):
    python = torch_python or sys.executable
    probe = subprocess.run(
        [python, "-c", "import torch, torchvision"], capture_output=True
    )
    return probe.returncode == 0


def table_rows(result):
    rows = []
    for name, figures in result["cases"].items():
        case, rates = figures["case"], figures["images_per_second"]
        fastest = figures["fastest"]
        for label, stats in sorted(rates.items(), key=lambda i: -i[1]["median"]):
            rows.append(
                {
                    "benchmark": f"CPU training race, {name} "
                    f"{case['size']}×{case['size']}, batch {case['batch']}",
                    "measure": f"images/s: {label}"
                    + (" (fastest)" if label == fastest else ""),
                    "ours": f"{stats['median']:.2f} img/s",
                    "peer": f"{figures['baseline']} "
                    f"{rates[figures['baseline']]['median']:.2f} img/s",
                    "ratio": ratio(figures["ratio_vs_baseline"][label]),
                    "target": "—",
                }
            )
    return rows


if __name__ == "__main__":
    main()
