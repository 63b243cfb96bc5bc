"""`RunOptions` and `DistributionOptions`: the options of `train()` and
`keras-residual train` other than data, each written once (see
`keras_residual.utils.options`)."""

from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group

# The strategies `distribution_strategy` builds and the precisions
# `resolve_precision` accepts (here, where the command line reads them
# without loading Keras).
DISTRIBUTIONS = ("none", "mirrored", "data_parallel")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")

JIT_FLAGS = {"auto": "auto", "on": True, "off": False}


def precision_option():
    """The `precision` field of an option group."""
    return option(
        "auto",
        "auto (measured for this machine and model), float32, mixed_float16 "
        "or mixed_bfloat16.",
        choices=PRECISIONS,
    )


def jit_compile_option():
    """The `jit_compile` field of an option group."""
    return option(
        "auto",
        "XLA compilation: 'auto', True or False (CLI: auto, on, off).",
        cli_choices=tuple(JIT_FLAGS),
        parse=JIT_FLAGS.get,
        type_doc="str or bool",
    )


@option_group
class RunOptions:
    """What a `train()` run does: its recipe, weights, numerics and
    artefacts."""

    epochs: int = option(
        None, "Epochs. None: the recipe's.", cli_type=int, setting="resolved"
    )
    recipe: str = option(
        None,
        "A recipe name (he2015, modern, fast, speedrun, finetune, speech; "
        "see `list_recipes()`) or a `Recipe`. None: finetune with "
        "`weights`, else speech for audio data and fast for images.",
        cli_type=str,
        setting="resolved",
    )
    weights: str = option(
        None,
        "Fine-tune from pretrained weights: a name registered for the model "
        "(imagenet, digits), a weights file, a .keras file or a run directory; "
        "the recipe's fine-tuning fields apply (see docs/fine-tuning.md). "
        "None: from scratch.",
        cli_type=str,
        setting="resolved",
    )
    preprocessing: object = option(
        None,
        "How images are scaled: tf, caffe, torch or any `Preprocessing` (or "
        "its config dict). None: the weights' own, else tf.",
        type_doc="str, dict, Preprocessing or None",
        check=as_preprocessing,
        choices=PREPROCESSING_MODES,
        cli_type=str,
        setting="resolved",
    )
    precision: str = precision_option()
    jit_compile: object = jit_compile_option()
    seed: int = option(
        0, "Seeds initialisation, shuffling and augmentation.", setting=True
    )
    deterministic: bool = option(
        False,
        "Bitwise-reproducible training: TensorFlow's deterministic ops and "
        "each epoch's order drawn from (seed, epoch), so two runs with one "
        "seed, or a killed and resumed run, end with equal weights "
        "(see docs/training.md for its cost).",
        setting=True,
    )
    resume: bool = option(
        False,
        "Continue the run in `out` from its last completed epoch; without it, "
        "an existing run in `out` is refused.",
    )
    export: bool = option(
        True,
        "Write model.keras and saved_model/ at the end (process 0 only).",
    )
    verbose: int = option(
        1, "fit's verbosity (1 shows a progress bar).", choices=(0, 1, 2)
    )
    tensorboard: bool = option(True, "Write TensorBoard logs to the run's logs/.")
    ema: float = option(
        None,
        "Keep an exponential moving average of the weights with this decay "
        "(e.g. 0.999, warmed up over the first steps); validation, the best "
        "checkpoint, the test figures and the export use the average.",
        cli_type=float,
        setting=True,
    )
    class_weight: object = option(
        None,
        "Weigh each class's loss: 'balanced' (n / (classes * n_c) from the "
        "training split's counts), a dict {class index: weight}, or "
        "'INDEX=WEIGHT,...' (CLI).",
        cli_type=str,
        type_doc="str, dict or None",
        setting=True,
    )


@option_group
class DistributionOptions:
    """Data parallelism of a `train()` run."""

    distribute: str = option(
        "none", "none, mirrored or data_parallel.", choices=DISTRIBUTIONS
    )
    coordinator_address: str = option(
        None, "Multi-process JAX: process 0's host:port.", cli_type=str
    )
    num_processes: int = option(
        None, "Multi-process JAX: the number of processes.", cli_type=int
    )
    process_id: int = option(
        None, "Multi-process JAX: this process's index.", cli_type=int
    )


@option_group
class LRFindOptions:
    """The learning-rate range test of `lr_find()`: the recipe whose
    optimizer it sweeps, the range and the data."""

    recipe: object = option(
        None,
        "A recipe name or a `Recipe`: its optimizer (SGD with momentum or "
        "AdamW), weight decay, label smoothing and batch size. None: what "
        "`train()` uses without weights (speech for audio data, else fast).",
        type_doc="str or Recipe",
        cli_type=str,
    )
    batch_size: int = option(
        None, "Images per batch. None: the recipe's.", minimum=1, cli_type=int
    )
    start: float = option(1e-6, "The first rate.", minimum=0.0, min_inclusive=False)
    end: float = option(10.0, "The last rate (above `start`).", minimum=0.0)
    steps: int = option(
        100,
        "Steps from `start` to `end` (the test stops early once the loss diverges).",
        minimum=5,
    )
    image_size: int = option(
        None, "Resize images to this size. None: the data's.", cli_type=int
    )
    seed: int = option(0, "Initialisation and shuffling seed.")
    verbose: int = option(1, "1 shows a progress bar.", choices=(0, 1), cli=False)
