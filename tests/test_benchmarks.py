"""The benchmark suite: every benchmark runs in `--smoke` mode (a few steps)
and yields docs table rows, and the docs table is regenerated from result
files. The TensorFlow benchmarks' scripts run in the test's own process
(their `main(["--smoke"])`: a child process would add ~7 s of imports to
each); the runner's child processes, `python -m benchmarks NAME --smoke`,
are run for real by the options test and for the JAX benchmark."""

import contextlib
import importlib
import io
import json
import os
import re
import subprocess
import sys

import keras
import pytest

from benchmarks import run
from tests.conftest import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_benchmarks(*arguments, timeout=900):
    """`python -m benchmarks ARGUMENTS` in a real child process."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
    )


def smoke_in_this_process(benchmark, results_dir):
    """Runs `benchmark`'s script with `--smoke` here, its results going to
    `results_dir`; returns (what it printed, its table rows)."""
    module = importlib.import_module(benchmark.module)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        module.main(["--smoke"])
    keras.backend.clear_session()
    results = run.load_results(results_dir, [benchmark])
    return printed.getvalue(), run.table_rows(results, [benchmark])


# The benchmark that `test_options_after_one_benchmark_name_reach_its_script`
# runs through the runner in smoke mode (so not again in this process).
RUN_BY_THE_RUNNER = "degradation"


@pytest.mark.parametrize(
    "name",
    [
        b.name
        for b in run.SUITE
        if b.backend == "tensorflow" and b.name != RUN_BY_THE_RUNNER
    ],
)
@pytest.mark.slow
def test_benchmark_runs_in_smoke_mode_and_yields_table_rows(
    name, tmp_path, monkeypatch
):
    monkeypatch.setenv(run.RESULTS_ENV, str(tmp_path))
    printed, rows = smoke_in_this_process(run.BY_NAME[name], str(tmp_path))
    assert rows, printed[-3000:]
    assert {row["command"] for row in rows} == {f"python -m benchmarks {name}"}
    written = [f for f in os.listdir(tmp_path) if f.endswith(".json")]
    assert written and all(json.load(open(tmp_path / f))["smoke"] for f in written)


@pytest.mark.parametrize(
    "name", [b.name for b in run.SUITE if b.backend != "tensorflow"]
)
@pytest.mark.slow
def test_a_benchmark_on_another_backend_runs_in_its_own_process(name):
    done = run_benchmarks(name, "--smoke")
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    table = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("| ") and f"benchmarks {name}`" in line
    ]
    assert table, done.stdout[-3000:]


def test_smoke_results_never_land_in_the_results_folder(tmp_path, monkeypatch):
    from benchmarks.common import write_result

    monkeypatch.delenv(run.RESULTS_ENV, raising=False)
    path = write_result("smoke_probe", {"x": 1}, smoke=True)
    assert os.path.dirname(path) != os.path.join(ROOT, "benchmarks", "results")
    assert json.load(open(path)) == {"x": 1, "smoke": True}
    monkeypatch.setenv(run.RESULTS_ENV, str(tmp_path))
    assert write_result("probe", {"x": 2}) == str(tmp_path / "probe.json")


def test_docs_table_is_regenerated_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run.TABLE_START}\nold table\n{run.TABLE_END}\noutro\n")
    results = run.load_results(os.path.join(ROOT, "benchmarks", "results"))
    rows = run.table_rows(results)
    table = run.format_table(rows)
    run.rewrite_table(table, str(readme))
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "old table" not in text and table in text
    # Every benchmark has a row; the GPU one says it was not measured.
    for benchmark in run.SUITE:
        assert any(
            row["command"] == f"python -m benchmarks {benchmark.name}" for row in rows
        ), benchmark.name
    gpu = [row for row in rows if row["command"].endswith("gpu_resnet50")]
    assert all("not yet measured" in row["ours"] for row in gpu)
    (tmp_path / "plain.md").write_text("no markers\n")
    with pytest.raises(SystemExit, match="no benchmark table markers"):
        run.rewrite_table(table, str(tmp_path / "plain.md"))


def test_unknown_benchmark_names_are_refused_with_close_matches():
    with pytest.raises(SystemExit, match=r"'precison'.*precision"):
        run.select(["precison"])


@pytest.mark.slow
def test_options_after_one_benchmark_name_reach_its_script():
    """Also the smoke run of RUN_BY_THE_RUNNER: its rows and result file."""
    done = run_benchmarks(RUN_BY_THE_RUNNER, "--dataset", "fashion_mnist", "--smoke")
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert "--dataset fashion_mnist" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert any("Degradation (He et al. Fig. 6), Fashion-MNIST" in r for r in rows)
    assert any(f"benchmarks {RUN_BY_THE_RUNNER}`" in r for r in rows)
    written = re.findall(r"^wrote (\S+\.json)$", done.stdout, re.M)
    assert written and all(json.load(open(path))["smoke"] for path in written)
    refused = run_benchmarks(
        "degradation", "fashion_mnist", "--epochs", "1", timeout=120
    )
    assert refused.returncode == 2 and "name exactly one" in refused.stderr


def test_a_dry_run_prints_each_command_and_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(run.subprocess, "call", None)  # a call would fail
    monkeypatch.setenv(run.RESULTS_ENV, str(tmp_path))
    assert run.main(["precision", "degradation", "--smoke", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["-m", "benchmarks.precision_xla", "--smoke"],
        ["-m", "benchmarks.degradation", "--smoke"],
    ]
    assert os.listdir(tmp_path) == []
