"""The docs: every python and bash block of every page runs (offline, in a
sandbox, a child process per page or per group of short pages), links
resolve, the set-up commands are `.ci/run`'s, and the README stays a front
page."""

import functools
import glob
import json
import os
import re
import shutil
import subprocess

import keras
import numpy as np
import pytest

from tests.conftest import run_python_file
from tests.conftest import subprocess_env
from tests.docs_blocks import cli_commands
from tests.docs_blocks import parse
from tests.docs_blocks import plan
from tests.docs_blocks import run_cli_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted(
    os.path.relpath(path, ROOT)
    for path in [
        os.path.join(ROOT, "README.md"),
        os.path.join(ROOT, "CHANGELOG.md"),
        os.path.join(ROOT, "CONTRIBUTING.md"),
        os.path.join(ROOT, "saved_models", "README.md"),
        *glob.glob(os.path.join(ROOT, "docs", "*.md")),
    ]
)
# Cuts the network: every HTTP(S) client goes through a closed port.
OFFLINE = {
    **dict.fromkeys(
        ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"),
        "http://127.0.0.1:9",
    ),
    **dict.fromkeys(("no_proxy", "NO_PROXY"), ""),
    "HF_HUB_OFFLINE": "1",
}


def read(page):
    with open(os.path.join(ROOT, page)) as handle:
        return handle.read()


def has_fashion_mnist():
    from keras_residual.data.fashion_mnist import find_files

    return find_files() is not None


def runnable_pages():
    return [page for page in PAGES if plan(parse(read(page)), True)]


def write_images(folder):
    """Real digits as PNG files: `my_images/` (three classes of 12),
    `photo.png`, `digit.png` and `other.jpg`."""
    import keras

    from keras_residual.data import load_digits_arrays

    images, labels = load_digits_arrays()["train"]
    for label in range(3):
        os.makedirs(folder / "my_images" / f"digit_{label}")
        for index in np.flatnonzero(labels == label)[:12]:
            keras.utils.save_img(
                folder / "my_images" / f"digit_{label}" / f"{index}.png",
                images[index],
            )
    keras.utils.save_img(folder / "photo.png", images[0])
    keras.utils.save_img(folder / "digit.png", images[1])
    keras.utils.save_img(folder / "other.jpg", np.repeat(images[2], 3, axis=-1))


def test_every_page_parses_and_names_known_directives():
    for page in PAGES:
        blocks = parse(read(page))
        for block in blocks:
            assert block.language, f"{page}:{block.line}: a fence without a language"


def test_the_parser_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="unknown directive 'skip'"):
        parse("<!-- docs-test: skip -->\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="unclosed"):
        parse("```python\nx = 1\n")
    with pytest.raises(ValueError, match="must precede a block"):
        parse("<!-- docs-test: file a.txt -->\ntext\n```python\nx = 1\n```\n")
    blocks = parse('<!-- docs-test: replace "30" "1" -->\n```bash\necho 3\n```\n')
    with pytest.raises(ValueError, match="'30' is not in the block"):
        plan(blocks, True)


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_only_plain_command_lines_run_in_process():
    code = "keras-residual models  # the zoo\n\nkeras-residual summary 'ResNet50'\n"
    assert cli_commands(code) == [["models"], ["summary", "ResNet50"]]
    for shell in (
        "keras-residual models | head",
        "keras-residual predict exports/m *.png",
        "keras-residual models\npython -m benchmarks --list",
        "keras-residual train --out $HOME/run",
        "keras-residual train \\\n  --epochs 1",
        "# only a comment",
    ):
        assert cli_commands(shell) is None, shell
    failed = run_cli_in_process([["summary", "ResNet50"], ["summary", "ResNet5O"]])
    assert "ResNet5O" in failed and "exit 2" in failed
    keras.config.set_dtype_policy("mixed_bfloat16")  # the page's own
    assert run_cli_in_process([["models"]]) is None
    assert keras.config.dtype_policy().name == "mixed_bfloat16"


# Pages whose blocks take a few seconds in all: they share one child
# process, so that its ~7 s of imports are paid once (each starts from a
# fresh namespace and Keras' start-up state); every other page runs in a
# process of its own.
SHARED_PROCESS_PAGES = (
    "docs/benchmarks.md",
    "docs/blocks.md",
    "docs/fashion-mnist.md",
    "docs/index.md",
    "docs/names.md",
    "docs/sharing.md",
    "docs/speech.md",
    "docs/weights.md",
    "docs/zoo.md",
)


def page_groups():
    """The pages each `test_code_blocks_run` runs in one child process."""
    pages = runnable_pages()
    shared = [page for page in pages if page in SHARED_PROCESS_PAGES]
    return [[page] for page in pages if page not in shared] + [shared]


def write_sandbox(folder):
    """A page's sandbox: the images its blocks read, and links to the
    repository folders they read."""
    folder.mkdir(parents=True)
    write_images(folder)
    for name in ("examples", "saved_models", "tests"):
        os.symlink(os.path.join(ROOT, name), folder / name)


@pytest.mark.parametrize(
    "pages", page_groups(), ids=lambda pages: pages[0] if len(pages) == 1 else "short"
)
@pytest.mark.slow
def test_code_blocks_run(pages, tmp_path):
    plans, steps = [], {}
    for number, page in enumerate(pages):
        steps[page] = plan(parse(read(page)), has_fashion_mnist())
        sandbox = tmp_path / f"sandbox{number}"
        write_sandbox(sandbox)
        plans.append(tmp_path / f"plan{number}.json")
        plans[-1].write_text(
            json.dumps({"page": page, "sandbox": str(sandbox), "steps": steps[page]})
        )
    # The benchmark page's table is rewritten into a copy, then compared.
    table = tmp_path / "benchmarks.md"
    table.write_text(read(os.path.join("docs", "benchmarks.md")))
    env = subprocess_env(
        **OFFLINE,
        KERAS_HOME=str(tmp_path / "keras_home"),
        TFDS_DATA_DIR=str(tmp_path / "tensorflow_datasets"),
        PYTHONPATH=ROOT,
        BENCHMARKS_TABLE_PAGE=str(table),
        BENCHMARK_RESULTS_DIR=str(tmp_path / "benchmark_results"),
        MPLBACKEND="Agg",
    )
    done = run_python_file(
        os.path.join(ROOT, "tests", "docs_blocks.py"),
        *plans,
        env=env,
        timeout=900,
        cwd=tmp_path,
    )
    report = done.stdout + done.stderr[-4000:]
    assert done.returncode == 0, f"{pages}: {report}"
    printed = dict(
        re.findall(r"^PAGE (\S+)\n(.*?)(?=^PAGE |\Z)", done.stdout, re.M | re.S)
    )
    for page in pages:
        ran = re.findall(r"^BLOCK \d+ ok ", printed.get(page, ""), re.M)
        assert len(ran) == len(steps[page]), f"{page}: {report}"
    assert table.read_text() == read(os.path.join("docs", "benchmarks.md")), (
        "docs/benchmarks.md's table is not what `python -m benchmarks --table` "
        "writes from benchmarks/results/"
    )


def test_the_shared_process_pages_are_runnable_pages():
    assert set(SHARED_PROCESS_PAGES) <= set(runnable_pages())


def ci_commands(text):
    return [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd ", "export "))
    ]


def test_set_up_commands_are_what_ci_runs():
    ci = ci_commands(read(os.path.join(".ci", "run")))
    assert len(ci) == 2
    pages = {
        page: [b for b in parse(read(page)) if b.arguments("ci-run")] for page in PAGES
    }
    assert len(pages["README.md"]) == 1
    for page, blocks in pages.items():
        for block in blocks:
            assert ci_commands(block.code) == ci, f"{page}:{block.line}"


LINK = re.compile(r"\]\(([^)\s]+)\)")


@functools.cache
def anchors(page):
    """The heading anchors of a markdown page (mkdocs' slugs)."""
    text = re.sub(r"```.*?```", "", read(page), flags=re.S)
    return {
        re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", heading.lower())).strip("-")
        for heading in re.findall(r"^#+ (.*)$", text, flags=re.M)
    }


def test_links_between_pages_resolve():
    for page in PAGES:
        text = re.sub(r"```.*?```", "", read(page), flags=re.S)
        for target in LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(page), path))
            assert os.path.exists(os.path.join(ROOT, linked)), f"{page}: {target}"
            if anchor:
                assert anchor in anchors(linked if path else page), f"{page}: {target}"


def test_readme_is_a_front_page():
    lines = read("README.md").splitlines()
    assert len(lines) <= 250, len(lines)
    for page in glob.glob(os.path.join(ROOT, "docs", "*.md")):
        name = os.path.relpath(page, ROOT)
        assert name in read("README.md") or name.endswith("index.md"), name


@pytest.mark.slow  # a real process
def test_the_docs_session_fails_on_a_broken_link(tmp_path):
    """`nox -s docs` (CI's docs check) builds strictly: a copy of the repository
    whose docs gain a broken link fails it, naming the link. (That the
    untouched docs pass is CI's own `nox -s docs`, run before pytest.)"""
    for name in os.listdir(ROOT):
        if name not in ("docs", ".git", "runs", "site"):
            os.symlink(os.path.join(ROOT, name), tmp_path / name)
    docs = tmp_path / "docs"
    shutil.copytree(os.path.join(ROOT, "docs"), docs)  # stylesheets/ too
    with open(docs / "zoo.md", "a") as handle:
        handle.write("\n[a broken link](no-such-page.md)\n")
    failed = subprocess.run(
        ["nox", "-s", "docs"], cwd=tmp_path, capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert "no-such-page.md" in failed.stdout + failed.stderr


def test_ci_runs_the_same_pytest_commands_as_the_nox_sessions():
    """The README's second command spells out pytest; `nox -s tests` and
    `nox -s tests-jax` must run the very same commands."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "noxfile", os.path.join(ROOT, "noxfile.py")
    )
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    pytest_command = " ".join(noxfile.PYTEST)
    test_line = ci_commands(read(os.path.join(".ci", "run")))[1]
    assert test_line.split(" && ") == [
        "nox -s lint docs",
        pytest_command,
        f'KERAS_BACKEND=jax {pytest_command} -m "jax and not deep"',
    ]
    assert '"jax and not deep"' in read("noxfile.py")


def test_the_api_reference_has_an_entry_for_every_public_name():
    import importlib

    import keras_residual as kr

    with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as handle:
        text = handle.read()
    entries = re.findall(
        r"^::: (\S+)\n    options:\n      heading: kr\.(\w+)$", text, re.M
    )
    by_name = {name: path for path, name in entries}
    assert len(by_name) == len(entries)  # no name twice
    missing = sorted(set(kr.__all__) - set(by_name), key=str.lower)
    assert not missing, f"docs/api.md has no entry for {missing}"
    assert set(by_name) <= set(kr.__all__)
    for name, path in by_name.items():
        module, attribute = path.rsplit(".", 1)
        documented = getattr(importlib.import_module(module), attribute)
        public = getattr(kr, name)
        if name == "search":  # the callable subpackage: its function
            public = public.search
        assert documented is public, (name, path)


def test_the_reference_reads_each_argument_type_from_our_docstrings():
    import sys

    sys.path.insert(0, os.path.join(ROOT, "docs"))
    try:
        from griffe_types import typed_docstring
    finally:
        sys.path.pop(0)
    text = (
        "Builds.\n\nArgs:\n    model: `keras.Model`. The model, with\n"
        "        its backbone.\n    steps: int or None. Batches.\n"
        "    **kwargs: other arguments.\n\nReturns:\n    x: y. z.\n"
    )
    assert typed_docstring(text).splitlines() == [
        "Builds.",
        "",
        "Args:",
        "    model (keras.Model): The model, with",
        "        its backbone.",
        "    steps (int or None): Batches.",
        "    **kwargs: other arguments.",
        "",
        "Returns:",
        "    x: y. z.",
    ]
