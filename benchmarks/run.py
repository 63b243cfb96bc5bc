"""One entry point for every benchmark, and the table of docs/benchmarks.md.

    python -m benchmarks                      # run all, rewrite the docs table
    python -m benchmarks precision applications
    python -m benchmarks --smoke              # every benchmark, a few steps
    python -m benchmarks --list
    python -m benchmarks --table              # only rewrite the table
    python -m benchmarks degradation --dataset fashion_mnist  # options of one

Each benchmark runs in its own process (`python -m benchmarks.NAME`), so
precision policies and memory don't leak from one to the next; the GPU
benchmark runs with KERAS_BACKEND=jax. A benchmark writes its JSON to
`benchmarks/results/` (smoke runs write to a temporary folder instead) and
has a `table_rows(result)` that turns it into rows of the table,
which is regenerated between its two marker comments.
"""

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import RESULTS_DIR
from benchmarks.common import RESULTS_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The page whose table `--table` rewrites ($BENCHMARKS_TABLE_PAGE: another
# copy, as the docs test uses).
TABLE_PAGE = os.environ.get(
    "BENCHMARKS_TABLE_PAGE", os.path.join(ROOT, "docs", "benchmarks.md")
)
TABLE_START = "<!-- benchmark-table:start (python -m benchmarks --table) -->"
TABLE_END = "<!-- benchmark-table:end -->"


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark script.

    Args:
        name: str. What `python -m benchmarks NAME` calls it.
        module: str. The script, run as `python -m MODULE`.
        results: tuple of str. JSON files (without `.json`) it writes.
        backend: str. The Keras backend it runs on. Defaults to
            `"tensorflow"`.
    """

    name: str
    module: str
    results: tuple
    backend: str = "tensorflow"


SUITE = (
    Benchmark(
        "applications", "benchmarks.applications_training", ("applications_training",)
    ),
    Benchmark("precision", "benchmarks.precision_xla", ("precision_xla",)),
    Benchmark("kernel_library", "benchmarks.kernel_library", ("kernel_library",)),
    Benchmark("input_pipeline", "benchmarks.input_pipeline", ("input_pipeline",)),
    Benchmark("zoo_build", "benchmarks.zoo_build", ("zoo_build",)),
    Benchmark("cpu_training", "benchmarks.cpu_training", ("cpu_training",)),
    Benchmark("fit_path", "benchmarks.fit_path", ("fit_path",)),
    Benchmark("first_fit", "benchmarks.first_fit", ("first_fit",)),
    Benchmark("determinism", "benchmarks.determinism", ("determinism",)),
    Benchmark("cli_startup", "benchmarks.cli_startup", ("cli_startup",)),
    Benchmark(
        "families_training", "benchmarks.families_training", ("families_training",)
    ),
    Benchmark("export_latency", "benchmarks.export_latency", ("export_latency",)),
    Benchmark("quantized_export", "benchmarks.quantized_export", ("quantized_export",)),
    Benchmark("densenet_memory", "benchmarks.densenet_memory", ("densenet_memory",)),
    Benchmark("digits_resnet20", "benchmarks.digits_resnet20", ("digits_resnet20",)),
    Benchmark(
        "degradation",
        "benchmarks.degradation",
        ("degradation", "degradation_fashion_mnist"),
    ),
    Benchmark("fashion_mnist", "benchmarks.fashion_mnist", ("fashion_mnist",)),
    Benchmark("time_to_accuracy", "benchmarks.time_to_accuracy", ("time_to_accuracy",)),
    Benchmark(
        "augmentation",
        "benchmarks.augmentation",
        ("augmentation", "augmentation_long"),
    ),
    Benchmark("gradient_flow", "benchmarks.gradient_flow", ("gradient_flow",)),
    Benchmark("search_digits", "benchmarks.search_digits", ("search_digits_random",)),
    Benchmark("transfer", "benchmarks.transfer", ("transfer",)),
    Benchmark(
        "transfer_robustness",
        "benchmarks.transfer_robustness",
        ("transfer_robustness",),
    ),
    Benchmark("spoken_digit", "benchmarks.spoken_digit", ("spoken_digit",)),
    Benchmark(
        "gpu_resnet50", "benchmarks.gpu.resnet50", ("gpu_resnet50",), backend="jax"
    ),
)
BY_NAME = {benchmark.name: benchmark for benchmark in SUITE}


def select(names):
    """The benchmarks named, in suite order; all of them for none."""
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        from keras_residual.utils.validation import unknown_name_message

        raise SystemExit(
            unknown_name_message("benchmark", unknown[0], BY_NAME, kind="benchmark")
        )
    return [b for b in SUITE if not names or b.name in names]


def benchmark_command(benchmark, smoke, options=()):
    """The child's command line: its module, `options`, and `--smoke`."""
    command = [sys.executable, "-m", benchmark.module, *options]
    return command + (["--smoke"] if smoke else [])


def run_benchmark(benchmark, smoke, results_dir=None, options=()):
    """Runs one benchmark in a child process, with its own `options`;
    returns (exit code, seconds)."""
    env = dict(
        os.environ,
        KERAS_BACKEND=benchmark.backend,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    if results_dir:
        env[RESULTS_ENV] = results_dir
    command = benchmark_command(benchmark, smoke, options)
    print(
        f"== {benchmark.name}: {' '.join(command[1:])} "
        f"(KERAS_BACKEND={benchmark.backend})",
        flush=True,
    )
    started = time.perf_counter()
    code = subprocess.call(command, cwd=ROOT, env=env)
    return code, time.perf_counter() - started


def load_results(folder, benchmarks=SUITE):
    """`{benchmark name: [result dicts]}` for the JSON files present."""
    found = {}
    for benchmark in benchmarks:
        for stem in benchmark.results:
            path = os.path.join(folder, stem + ".json")
            if os.path.isfile(path):
                with open(path) as handle:
                    found.setdefault(benchmark.name, []).append(json.load(handle))
    return found


def table_rows(results, benchmarks=SUITE):
    """The table rows of every result, via each benchmark's
    `table_rows(result)`."""
    rows = []
    for benchmark in benchmarks:
        module = importlib.import_module(benchmark.module)
        command = f"python -m benchmarks {benchmark.name}"
        if benchmark.name not in results and hasattr(module, "not_measured_rows"):
            rows += [dict(row, command=command) for row in module.not_measured_rows()]
        for result in results.get(benchmark.name, ()):
            rows += [dict(row, command=command) for row in module.table_rows(result)]
    return rows


def format_table(rows):
    lines = [
        "| benchmark | measure | ours | peer | ratio | target | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                str(row.get(key, ""))
                for key in ("benchmark", "measure", "ours", "peer", "ratio", "target")
            )
            + f" | `{row['command']}` |"
        )
    return "\n".join(lines)


def rewrite_table(table, page=TABLE_PAGE):
    """Replaces the text between the table markers in `page` (the docs'
    benchmarks page)."""
    with open(page) as handle:
        text = handle.read()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(
            f"{page} has no benchmark table markers "
            f"({TABLE_START!r} ... {TABLE_END!r})."
        )
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    from keras_residual.utils.atomic import write_text

    write_text(page, f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run benchmarks and regenerate the docs table.",
    )
    parser.add_argument("names", nargs="*", help="Benchmarks to run (all).")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="A few steps each, results in a temporary folder, docs untouched.",
    )
    parser.add_argument("--list", action="store_true")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Print the command each chosen benchmark would run; run nothing.",
    )
    parser.add_argument(
        "--table",
        action="store_true",
        help="Only rewrite the docs table from the results.",
    )
    args, options = parser.parse_known_args(argv)
    if args.list:
        for benchmark in SUITE:
            print(
                f"{benchmark.name:<16} python -m {benchmark.module}"
                f"{'' if benchmark.backend == 'tensorflow' else '  (jax)'}"
            )
        return 0
    if not args.table:
        chosen = select(args.names)
        if options and len(chosen) != 1:
            parser.error(
                f"options {' '.join(options)} belong to one benchmark; name "
                f"exactly one (received {len(chosen)})."
            )
        if args.dry_run:
            for benchmark in chosen:
                print(" ".join(benchmark_command(benchmark, args.smoke, options)))
            return 0
        scratch = tempfile.mkdtemp(prefix="benchmarks-smoke-") if args.smoke else None
        failed = []
        for benchmark in chosen:
            code, seconds = run_benchmark(benchmark, args.smoke, scratch, options)
            print(f"== {benchmark.name}: exit {code}, {seconds:.0f} s", flush=True)
            if code:
                failed.append(benchmark.name)
        if args.smoke:
            rows = table_rows(load_results(scratch, chosen), chosen)
            missing = [
                b.name
                for b in chosen
                if not any(r["command"].endswith(" " + b.name) for r in rows)
            ]
            print(format_table(rows))
            failed += [
                f"{name} (no table rows)" for name in missing if name not in failed
            ]
        if failed:
            print(f"failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        if args.smoke:
            return 0
    table = format_table(table_rows(load_results(RESULTS_DIR)))
    rewrite_table(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
