"""`keras-residual train` and `search`: a recipe run and an architecture
search from the command line."""

import keras_residual
from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.cli.options import overrides_from_args
from keras_residual.core.model_options import ModelOverrides
from keras_residual.data.options import DataOptions
from keras_residual.search.options import SearchOptions
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import RunOptions
from keras_residual.training.recipe_fields import RecipeFields
from keras_residual.utils.validation import counted


def _train(args):
    result = keras_residual.train(
        args.model,
        args.dataset,
        args.out,
        data=options_from_args(args, DataOptions),
        run=options_from_args(args, RunOptions),
        distribution=options_from_args(args, DistributionOptions),
        model_overrides=options_from_args(args, ModelOverrides).given(),
        recipe_overrides=overrides_from_args(args, RecipeFields),
    )
    metrics = result.metrics
    accuracy = metrics["test_accuracy"]
    print(
        f"{metrics['model']} on {metrics['dataset']}: "
        f"{counted(metrics['epochs_completed'], 'epoch')}, test accuracy "
        f"{'n/a' if accuracy is None else f'{accuracy:.4f}'}, "
        f"{metrics['params']:,} parameters, "
        f"{metrics['images_per_second'] or 0:.0f} images/s "
        f"({metrics['precision']}), {metrics['wall_seconds']:.1f} s. "
        f"Run directory: {result.run_dir}"
    )


def add_train_parser(commands):
    """Adds the `train` and `tune` sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    train = add_command_parser(commands, "train")
    train.add_argument(
        "--model", default="ResNet20", help="A name from `keras-residual models`."
    )
    _add_dataset(train)
    train.add_argument("--out", required=True, help="The run directory.")
    for group in (RunOptions, DataOptions, DistributionOptions):
        add_option_flags(train, group)
    add_option_flags(train, RecipeFields, overrides=True)
    add_option_flags(train, ModelOverrides)
    train.set_defaults(run=_train)
    add_tune_parser(commands)


def _add_dataset(parser):
    parser.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (embedded), 'fashion_mnist' (offline after `apt-get "
        "install dataset-fashion-mnist`), a TFDS name or an image directory.",
    )


def add_tune_parser(commands):
    """Adds the `search` sub-command (`tune`, its 0.1 name, is an alias), the
    command line of `keras_residual.search.search()`.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    tune = add_command_parser(commands, "search")
    _add_dataset(tune)
    add_option_flags(tune, DataOptions)
    tune.add_argument(
        "--out", required=True, help="Output directory; rerunning resumes the search."
    )
    add_option_flags(tune, SearchOptions)
    role = tune.add_mutually_exclusive_group()
    role.add_argument(
        "--chief",
        action="store_true",
        help="Serve the oracle to workers (distributed search).",
    )
    role.add_argument(
        "--worker", metavar="ID", help="Run trials for the chief at --oracle-address."
    )
    tune.add_argument(
        "--oracle-address",
        metavar="HOST:PORT",
        help="The chief's address (distributed search).",
    )
    tune.set_defaults(run=_tune)


def _tune(args):
    from keras_residual.search.run import search
    from keras_residual.search.tuners import configure_distributed_search

    configure_distributed_search(args.chief, args.worker, args.oracle_address)
    search(
        args.dataset,
        args.out,
        search_options=options_from_args(args, SearchOptions),
        data=options_from_args(args, DataOptions),
    )
