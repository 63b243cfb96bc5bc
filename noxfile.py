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


# The pages `docs-shots` photographs, as a reader at 1280 px sees them.
SHOT_PAGES = ("index", "getting-started", "fine-tuning", "api")


@nox.session(name="docs-shots")
def docs_shots(session):
    """Builds the site into build/site and screenshots SHOT_PAGES with a
    headless Chromium (Debian's `chromium`) into build/docs-shots/*.png,
    1280 px wide, for a person to look at."""
    import os
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        session.error("docs-shots needs Chromium: apt-get install chromium")
    site, shots = os.path.abspath("build/site"), os.path.abspath("build/docs-shots")
    os.makedirs(shots, exist_ok=True)
    session.run("mkdocs", "build", "--strict", "--site-dir", site, external=True)
    for page in SHOT_PAGES:
        html = os.path.join(site, "index.html" if page == "index" else page)
        if os.path.isdir(html):
            html = os.path.join(html, "index.html")
        session.run(
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1600",
            f"--screenshot={os.path.join(shots, page + '.png')}",
            f"file://{html}",
            external=True,
        )
