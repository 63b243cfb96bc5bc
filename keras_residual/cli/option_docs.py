"""The options page of the docs (`docs/options.md`), generated from the
option groups' fields: each field's keyword, command-line flag, type,
default, `run.json` key and description, so the page cannot drift from
the code (a test holds the committed page equal to this output).

`python -m keras_residual.cli.option_docs` rewrites the page."""

import dataclasses
import os

from keras_residual.cli.explain import ExplainOptions
from keras_residual.cli.options import flag_spellings
from keras_residual.core.model_options import ModelOverrides
from keras_residual.data.load_options import LoadOptions
from keras_residual.data.options import DataOptions
from keras_residual.hub.hub_options import PresetOptions
from keras_residual.hub.hub_options import PushOptions
from keras_residual.search.options import SearchOptions
from keras_residual.serving.serving_options import EvaluateOptions
from keras_residual.serving.serving_options import ExportOptions
from keras_residual.serving.serving_options import PredictOptions
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import LRFindOptions
from keras_residual.training.options import RunOptions
from keras_residual.training.recipe_fields import RecipeFields
from keras_residual.utils.options import type_doc

PAGE = os.path.join("docs", "options.md")
# (heading, what it is, [(group, where its fields go in run.json)]).
SECTIONS = (
    (
        "`train()` and `keras-residual train`",
        "Keywords of `train()` (or fields of its `run`, `data` and "
        "`distribution` objects) and flags of `keras-residual train`.",
        [(RunOptions, "run"), (DataOptions, "run"), (DistributionOptions, None)],
    ),
    (
        "Recipe fields",
        "Fields of `Recipe` (`kr.Recipe(...)`, `recipe_overrides={...}`); the "
        "`train` flags override the chosen recipe's, and a run records them "
        "in `run.json`'s `recipe_overrides`.",
        [(RecipeFields, "recipe_overrides")],
    ),
    (
        "Model overrides",
        "Flags of `keras-residual train`, `lr-find` and `summary` that change "
        "the registered model's architecture (`train(model_overrides={...})`, "
        "`build(name, **overrides)`, which take many more); a run records "
        "them in `run.json`'s `model_overrides`.",
        [(ModelOverrides, "model_overrides")],
    ),
    (
        "`search()` and `keras-residual search`",
        "Keywords of `search()` (or fields of its `search_options`) and flags "
        "of `keras-residual search`, beside the data options above.",
        [(SearchOptions, None)],
    ),
    (
        "`export()`, `evaluate_export()` and their commands",
        "Keywords of `export()` and `evaluate_export()` (or fields of their "
        "`options`) and flags of `keras-residual export` and `evaluate`; the "
        "flags of `predict`.",
        [(ExportOptions, None), (EvaluateOptions, None), (PredictOptions, None)],
    ),
    (
        "`keras-residual explain`",
        "Flags of `keras-residual explain` (`kr.explain` takes the model, "
        "the images and `class_index`).",
        [(ExplainOptions, None)],
    ),
    (
        "`lr_find()` and `keras-residual lr-find`",
        "Keywords of `lr_find()` (or fields of its `options`) and flags of "
        "`keras-residual lr-find`.",
        [(LRFindOptions, None)],
    ),
    (
        "`save_to_preset()`, `push_to_hub()` and their commands",
        "Keywords of `save_to_preset()` and `push_to_hub()` (or fields of "
        "their `options`) and flags of `keras-residual preset` and `push`.",
        [(PresetOptions, None), (PushOptions, None)],
    ),
    (
        "`load_data()`",
        "Keywords of `load_data()` (or fields of its `options`); API only.",
        [(LoadOptions, None)],
    ),
)
HEADER = (
    "| keyword | flag | type | default | `run.json` | what it does |\n"
    "|---|---|---|---|---|---|"
)


def option_row(field, run_json, cli):
    """One table row of a field.

    Args:
        field: `dataclasses.Field`. An option field.
        run_json: str or None. Where the group's settings go in `run.json`:
            `"run"` (its settings by name), `"recipe_overrides"`,
            `"model_overrides"`, or None.
        cli: bool. Whether the group has command-line flags.
    """
    meta = field.metadata
    flags = flag_spellings(field) if cli and meta.get("cli", True) else ()
    recorded = "—"
    if run_json in ("recipe_overrides", "model_overrides") and flags:
        recorded = f"`{run_json}`"
    elif run_json == "run" and meta.get("setting"):
        recorded = f"`{field.name}`" + (
            " (resolved)" if meta["setting"] == "resolved" else ""
        )
    cells = (
        f"`{field.name}`",
        " ".join(f"`{flag}`" for flag in flags) or "—",
        type_doc(field).replace("`", ""),
        f"`{field.default!r}`",
        recorded,
        " ".join(meta["doc"].split()).replace("|", "\\|"),
    )
    return "| " + " | ".join(cells) + " |"


def options_page():
    """The whole page, as markdown."""
    lines = [
        "# Options",
        "",
        "Every option of the package, one row per field of its option group:",
        "the keyword, the command-line flag, the type, the default, the key",
        "`run.json` records it under (a resumed run must match those) and what",
        "it does. Generated from the fields by `python -m",
        "keras_residual.cli.option_docs`; a test holds this page equal to its",
        "output, so adding a field adds its row (see",
        "[Contributing](../CONTRIBUTING.md#adding-an-option)).",
    ]
    for heading, intro, groups in SECTIONS:
        lines += ["", f"## {heading}", "", intro]
        for group, run_json in groups:
            cli = group is not LoadOptions
            lines += ["", f"### `{group.__name__}`", "", HEADER]
            lines += [
                option_row(field, run_json, cli) for field in dataclasses.fields(group)
            ]
    return "\n".join(lines) + "\n"


def main():
    """Writes the page (`tests/test_options.py` compares it with
    `options_page()`)."""
    with open(PAGE, "w", encoding="utf-8") as handle:
        handle.write(options_page())


if __name__ == "__main__":
    main()
