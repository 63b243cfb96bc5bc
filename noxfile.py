"""Developer sessions: `nox -s lint docs tests tests-jax` is what CI runs
(the README's second set-up command); `nox -s tests-fast` is the inner
loop. Every session runs in the current environment (install it first with
the README's first command), so nox creates no virtual environments."""

import tempfile

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "docs", "tests", "tests-jax"]
PYTEST = ("python3", "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup")


@nox.session
def lint(session):
    """ruff's lint and format checks."""
    session.run("ruff", "check", ".", external=True)
    session.run("ruff", "format", "--check", ".", external=True)


@nox.session
def docs(session):
    """Builds the documentation site strictly (links, anchors, API pages)."""
    # Not --quiet: it hides the warnings that --strict turns into failures.
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site, external=True)


@nox.session
def tests(session):
    """The whole suite on the TensorFlow backend (pytest arguments after --)."""
    session.run(*PYTEST, *session.posargs, external=True)


@nox.session(name="tests-fast")
def tests_fast(session):
    """The suite without the tests marked `slow` or `deep`."""
    session.run(*PYTEST, "-m", "not slow and not deep", *session.posargs, external=True)


@nox.session(name="tests-jax")
def tests_jax(session):
    """The tests marked `jax`, again on the JAX backend."""
    session.run(
        *PYTEST,
        "-m",
        "jax and not deep",
        *session.posargs,
        env={"KERAS_BACKEND": "jax"},
        external=True,
    )
