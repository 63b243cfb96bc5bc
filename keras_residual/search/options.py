"""`SearchOptions`: the options of `search()` and `keras-residual search`
other than data, each written once (see `keras_residual.utils.options`)."""

from keras_residual.training.options import jit_compile_option
from keras_residual.training.options import precision_option
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group

# The Keras Tuner algorithms `make_tuner` builds.
TUNERS = ("random", "hyperband", "bayesian")


@option_group
class SearchOptions:
    """What an architecture search tries and how each trial trains."""

    tuner: str = option("random", "The Keras Tuner algorithm.", choices=TUNERS)
    max_trials: int = option(10, "Trials, rejected ones included.")
    epochs: int = option(10, "Epochs per trial (Hyperband's maximum).")
    space: str = option(
        None,
        "The search space: a `SearchSpace`, its dict, or a JSON or YAML file. "
        "None: every registered search family.",
        cli_type=str,
    )
    max_params: int = option(None, "Parameter budget per model.", cli_type=int)
    max_flops: int = option(
        None, "FLOP budget per model (2 x MACs per image).", cli_type=int
    )
    objective: str = option("val_accuracy", "A logged metric to maximise.")
    recipe: str = option("fast", "The recipe each trial trains with.")
    seed: int = option(0, "Seeds the tuner, initialisation and shuffling.")
    precision: str = precision_option()
    jit_compile: object = jit_compile_option()
    overwrite: bool = option(
        False, "Discard a previous search in `out` instead of resuming it."
    )
    export: bool = option(True, "Export the best model.")
    verbose: int = option(1, "Keras verbosity of each trial.", choices=(0, 1, 2))
