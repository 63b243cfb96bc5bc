"""The code blocks of the docs: parsed here, run by `tests/test_docs.py`.

A block is a fenced `python` or `bash` block. HTML comments on the lines
just before it direct the runner (see docs/getting-started.md, "The docs'
code blocks"):

    <!-- docs-test: ci-run -->                  the set-up commands
    <!-- docs-test: network "TEXT" -->          must fail offline with TEXT
    <!-- docs-test: replace "A" "B" -->         run with A replaced by B
    <!-- docs-test: file NAME -->               write the block to NAME
    <!-- docs-test: needs fashion_mnist -->     needs the apt package

`python -m tests.docs_blocks PLAN.json [PLAN.json ...]` runs each page's
plan (`{"page", "sandbox", "steps"}`) in its sandbox folder, one page
after another, each from a fresh namespace and Keras' start-up state (as a
process of its own would; pages that take seconds share a process so that
its imports are paid once): python blocks share the page's namespace, bash
blocks run with `bash -e -o pipefail`, except that a block of nothing but
plain `keras-residual ...` lines runs them through `keras_residual.cli.main`
in this process (no shell syntax, so bash would only have started a new
Python per line; each starts from Keras' state as a new process would,
and the page's dtype policy is restored after the block; the real
command's process is tested in tests/test_cli.py and by `.ci/run`). It
prints `PAGE <page>` and then `BLOCK <line> ok (<seconds> s)` per block, and
exits 1 at the first failure, naming the page and the block's line.
"""

import contextlib
import dataclasses
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import traceback

FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!-- docs-test: (.*) -->\s*$")
RUN = ("python", "bash")
# Characters bash would interpret: a line with any runs in bash.
SHELL_SYNTAX = frozenset("|&;<>$`*?(){}[]~\\")
KINDS = ("ci-run", "network", "replace", "file", "needs")


@dataclasses.dataclass
class Block:
    """One fenced block.

    Args:
        language: str. The fence's info string (`python`, `bash`, `text`...).
        code: str. The block's text.
        line: int. The line of its opening fence (1-based).
        directives: list. `(kind, arguments)` pairs from its comments.
    """

    language: str
    code: str
    line: int
    directives: list = dataclasses.field(default_factory=list)

    def arguments(self, kind):
        """The argument lists of every directive of `kind`."""
        return [args for k, args in self.directives if k == kind]


def parse(text):
    """The fenced blocks of a markdown text, with their directives.

    Raises ValueError on an unknown directive or an unclosed fence.
    """
    blocks, pending, fence = [], [], None
    for number, line in enumerate(text.splitlines(), 1):
        if fence is not None:
            if line.strip() == "```":
                blocks.append(fence)
                fence = None
            else:
                fence.code += line + "\n"
            continue
        directive = DIRECTIVE.match(line)
        if directive:
            kind, *args = shlex.split(directive.group(1))
            if kind not in KINDS:
                raise ValueError(f"line {number}: unknown directive {kind!r}")
            pending.append((kind, args))
            continue
        opening = FENCE.match(line)
        if opening:
            fence = Block(opening.group(1), "", number, pending)
        elif line.strip() and pending:
            raise ValueError(f"line {number}: a directive must precede a block")
        pending = [] if opening or line.strip() else pending
    if fence is not None:
        raise ValueError(f"line {fence.line}: unclosed code block")
    return blocks


def plan(blocks, has_fashion_mnist):
    """The steps the child runs: one dict per runnable block or file."""
    steps = []
    for block in blocks:
        code = block.code
        for old, new in block.arguments("replace"):
            if old not in code:
                raise ValueError(f"line {block.line}: {old!r} is not in the block")
            code = code.replace(old, new)
        step = {"line": block.line, "language": block.language, "code": code}
        if block.arguments("file"):
            (name,) = block.arguments("file")[0]
            steps.append(dict(step, language="file", name=name))
            continue
        if block.language not in RUN or block.arguments("ci-run"):
            continue
        expected = [args[0] for args in block.arguments("network")]
        if ["fashion_mnist"] in block.arguments("needs") and not has_fashion_mnist:
            expected.append("apt-get install dataset-fashion-mnist")
        steps.append(dict(step, fails_with=expected))
    return steps


def run_step(step, namespace):
    """Runs one step; returns None, or the error text when it failed."""
    if step["language"] == "file":
        with open(step["name"], "w") as handle:
            handle.write(step["code"])
        return None
    if step["language"] == "python":
        try:
            exec(compile(step["code"], f"<block {step['line']}>", "exec"), namespace)
        except Exception:  # noqa: BLE001 - reported, then judged
            return traceback.format_exc()
        return None
    commands = cli_commands(step["code"])
    if commands is not None:
        return run_cli_in_process(commands)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["code"]],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else done.stdout + done.stderr


def cli_commands(code):
    """The argument lists of a bash block whose every command is a plain
    `keras-residual ...` line, or None when bash must run it."""
    commands = []
    for line in code.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # an open quote or a line continuation
            return None
        if not words:
            continue
        if words[0] != "keras-residual" or any(SHELL_SYNTAX & set(w) for w in words):
            return None
        commands.append(words[1:])
    return commands or None


def cli_exit_code(argv):
    """`keras_residual.cli.main(argv)` in this process: its exit code, the
    code of argparse's `SystemExit` included."""
    from keras_residual.cli import main

    try:
        return main(argv)
    except SystemExit as exit:  # argparse's usage errors
        return exit.code


def run_cli_in_process(commands):
    """Runs each `keras-residual` argument list through the command's
    `main` in this process, each from Keras' state as a new process starts
    with it; the page's own dtype policy is back afterwards, as a child
    process would have left it. Returns None, or the output and exit code
    of the first that fails."""
    import keras

    page_policy = keras.config.dtype_policy()
    output = io.StringIO()
    try:
        for argv in commands:
            keras.backend.clear_session()
            keras.config.set_dtype_policy("float32")
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                try:
                    code = cli_exit_code(argv)
                except Exception:  # noqa: BLE001 - reported, then judged
                    print(traceback.format_exc())
                    code = "a traceback"
            if code:
                command = " ".join(argv)
                return f"{output.getvalue()}\nkeras-residual {command}: exit {code}"
        return None
    finally:
        keras.config.set_dtype_policy(page_policy)


def main(*plan_paths):
    for plan_path in plan_paths:
        with open(plan_path) as handle:
            page = json.load(handle)
        print(f"PAGE {page['page']}", flush=True)
        os.chdir(page["sandbox"])
        reset_keras()
        if run_page(page["steps"]):
            return 1
    return 0


def reset_keras():
    """Keras' state as a new process starts with it (a page before may have
    set a dtype policy or built models)."""
    if "keras" not in sys.modules:
        return
    import keras

    keras.backend.clear_session()
    keras.config.set_dtype_policy("float32")
    keras.config.set_floatx("float32")
    keras.config.set_image_data_format("channels_last")


def run_page(steps):
    """Runs one page's steps in a fresh namespace; returns 1 at the first
    failure (printed), else 0."""
    namespace = {"__name__": "__docs__"}
    for step in steps:
        started = time.perf_counter()
        error = run_step(step, namespace)
        expected = step.get("fails_with")
        if expected:
            if error is None:
                print(f"BLOCK {step['line']} ran, but should fail with {expected}")
                return 1
            missing = [text for text in expected if text not in error]
            if missing:
                print(f"BLOCK {step['line']} lacks {missing}:\n{error[-3000:]}")
                return 1
        elif error is not None:
            print(f"BLOCK {step['line']} failed:\n{error[-3000:]}")
            return 1
        seconds = time.perf_counter() - started
        print(f"BLOCK {step['line']} ok ({seconds:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
