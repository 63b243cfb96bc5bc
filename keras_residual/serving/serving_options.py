"""`EvaluateOptions` and `PredictOptions`: the options of
`evaluate_export()` and of the `evaluate` and `predict` commands, each
written once (see `keras_residual.utils.options`)."""

from keras_residual.serving.tta import TTA_MODES
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group

SPLITS = ("test", "validation", "all")


def trust_option():
    """The `trust` field: run a SavedModel whose graph can touch files."""
    return option(
        False,
        "Run a SavedModel even if its graph uses ops that can read or write "
        "files, outside the tensor-op allow-list (only for models you trust).",
        flag="--trust-model",
    )


@option_group
class EvaluateOptions:
    """How `evaluate_export` reads a split and scores an export."""

    split: str = option(
        "test",
        "`test`, `validation` or `all` (every image of the dataset, its "
        "training split too).",
        choices=SPLITS,
    )
    batch_size: int = option(128, "Images per batch.", minimum=1)
    data_dir: str = option(
        None,
        "TFDS data directory, also searched for Fashion-MNIST's IDX files.",
        cli_type=str,
    )
    verbose: int = option(
        1, "1 shows a progress bar (the CLI: unless --json).", choices=(0, 1), cli=False
    )
    trust: bool = trust_option()
    report: str = option(
        None,
        "A folder to write `report.json` (per-class precision, recall and "
        "F1, top-1/top-5, the confusion matrix, the most wrong images), "
        "`confusion.png` and `most_wrong.png` into.",
        cli_type=str,
    )
    tta: str = option(
        "none",
        "Test-time augmentation: `none`, or `flip` (each image's and its "
        "mirror image's probabilities, averaged).",
        choices=TTA_MODES,
    )


@option_group
class PredictOptions:
    """What `keras-residual predict` shows for each image."""

    top_k: int = option(3, "Classes shown per image.", minimum=1)
    trust: bool = trust_option()
    json: bool = option(
        False, "Print one JSON document: a list with an object per image."
    )
