"""`ExportOptions`, `EvaluateOptions` and `PredictOptions`: the options of
`export()`, `evaluate_export()` and of the `export`, `evaluate` and
`predict` commands, each written once (see `keras_residual.utils.options`)."""

from keras_residual.core.preprocessing import PREPROCESSING_MODES
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


@option_group
class ExportOptions:
    """How `export` writes a model for serving: its embedded
    preprocessing, outputs, card contents and TFLite quantization."""

    preprocessing: object = option(
        "auto",
        "Preprocessing embedded in the serving signature, which then takes "
        "uint8 images of any size: `tf`, `caffe` or `torch`; `none` for a "
        "signature that takes the model's own float32 input (None, the 0.1 "
        "spelling, warns); `auto` for the mode the model records (its "
        "weights', or the pipeline's that trained it), never guessed from "
        "its name; a model that records none is refused.",
        type_doc="str or None",
        cli_choices=("auto",) + PREPROCESSING_MODES + ("none",),
        parse=str,
    )
    image_size: object = option(
        None,
        "`(height, width)` images are resized to. None: the model's input "
        "size, or its spec's `default_size` when that is dynamic.",
        type_doc="tuple of int or None",
        cli=False,
    )
    top_k: int = option(
        None,
        "Classes per image returned by `serve`, at most the class count. "
        "None: 5, or the class count if smaller.",
        minimum=1,
        cli_type=int,
    )
    class_names: tuple = option(
        None,
        "Recorded in the model card and used by `keras-residual predict`. "
        "None: the names the model records, else none.",
        cli=False,
    )
    metrics: object = option(
        None,
        "Evaluation results for the model card.",
        type_doc="dict or None",
        cli=False,
    )
    overwrite: bool = option(False, "Replace an existing export.")
    quantize: str = option(
        None,
        "TFLite post-training quantization: `dynamic` (int8 weights), "
        "`float16` (float16 weights) or `int8` (weights and activations, "
        "uint8 inputs and outputs; calibrated on `representative_data`, the "
        "CLI's --dataset). None: float32.",
        choices=("dynamic", "float16", "int8"),
        cli_type=str,
    )
    representative_data: object = option(
        None,
        "A `load_data` bundle, a `tf.data.Dataset` or an array of "
        "preprocessed images: calibrates int8; a bundle's test split also "
        "gives the card the TFLite model's accuracy.",
        type_doc="object or None",
        cli=False,
    )
    version: int = option(
        None,
        "For a SavedModel, write it to `out/<version>/`, the layout TF "
        "Serving watches (`out` is the model's base directory; other "
        "versions stay). None: `out`.",
        cli_type=int,
    )
    fold_batch_norm: object = option(
        "auto",
        "Fold each BatchNorm that follows a convolution into it, in the "
        "exported graph only: True, False or `auto` (for SavedModels, where "
        "it measured faster; ONNX Runtime and the TFLite converter fold by "
        "themselves).",
        type_doc="bool or str",
        cli=False,
    )
