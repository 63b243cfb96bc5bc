"""MkDocs hooks: the site shows files that live outside `docs/` (the
changelog, the contributing guide, the benchmark plots) without copying
them, so each file has one home and GitHub renders the pages too.

Pages link to them by their repository path (`../CHANGELOG.md`,
`../benchmarks/results/x.png`); these hooks add each such file to the site
under `repo/...` and rewrite the links to match.
"""

import os
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Repository files outside docs/ that pages may link to.
SHARED = ("LICENSE",)
# Repository files that are pages of the site too: page -> repository path.
PAGES = {
    "changelog.md": "CHANGELOG.md",
    "contributing.md": "CONTRIBUTING.md",
    "saved-models.md": "saved_models/README.md",
}
PAGE_OF = {path: page for page, path in PAGES.items()}
SHARED_FOLDERS = ("benchmarks/results",)
LINK = re.compile(r"\]\(\.\./([^)#\s]+)")


def shared_files():
    """Repository paths of the files pages may link to."""
    paths = [p for p in SHARED if os.path.isfile(os.path.join(ROOT, p))]
    for folder in SHARED_FOLDERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".png"):
                paths.append(f"{folder}/{name}")
    return paths


def on_files(files, config):
    for page, path in PAGES.items():
        files.append(
            File.generated(config, page, abs_src_path=os.path.join(ROOT, path))
        )
    for path in shared_files():
        files.append(
            File.generated(
                config, f"repo/{path}", abs_src_path=os.path.join(ROOT, path)
            )
        )
    return files


def on_page_markdown(markdown, page, config, files):
    def target(match):
        path = match.group(1)
        return "](" + PAGE_OF.get(path, f"repo/{path}")

    return LINK.sub(target, markdown)
