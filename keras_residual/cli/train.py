"""`keras-residual train` and `search`: a recipe run and an architecture
search from the command line."""

import argparse

import keras_residual
from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.cli.zoo import add_model_overrides
from keras_residual.cli.zoo import model_overrides
from keras_residual.data.options import DataOptions
from keras_residual.search.options import SearchOptions
from keras_residual.search.run import search
from keras_residual.search.tuners import configure_distributed_search
from keras_residual.training.options import DistributionOptions
from keras_residual.training.options import RunOptions
from keras_residual.utils.validation import counted


def _train(args):
    result = keras_residual.train(
        args.model,
        args.dataset,
        args.out,
        data=options_from_args(args, DataOptions),
        run=options_from_args(args, RunOptions),
        distribution=options_from_args(args, DistributionOptions),
        model_overrides=model_overrides(args),
        recipe_overrides=_recipe_overrides(args),
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


def _recipe_overrides(args):
    """The recipe fields the recipe flags set."""
    return {
        key: value
        for key, value in (
            ("learning_rate", args.learning_rate),
            ("label_smoothing", args.label_smoothing),
            ("mixup_alpha", args.mixup),
            ("cutmix_alpha", args.cutmix),
            ("rand_augment", args.rand_augment),
            ("rand_augment_magnitude", args.rand_augment_magnitude),
            ("rotation", args.rotation),
            ("color_jitter", args.color_jitter),
            ("random_erasing", args.random_erasing),
            ("steps_per_execution", args.steps_per_execution),
            ("head_epochs", args.head_epochs),
            ("unfreeze", _unfreeze(args.unfreeze)),
            ("backbone_lr_ratio", args.backbone_lr_ratio),
            ("layer_decay", args.layer_decay),
            ("freeze_bn", args.freeze_bn),
            ("keep_best", args.keep_best),
        )
        if value is not None
    }


def _unfreeze(value):
    """`--unfreeze`: "all", a number of stages, or None."""
    if value is None or value == "all":
        return value
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"`--unfreeze` must be 'all' or a number of stages; received {value!r}."
        ) from None


def _ratio(value):
    """`--backbone-lr-ratio`: "auto" or a number."""
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a number in (0, 1]; received {value!r}"
        ) from None


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
    train.add_argument(
        "--head-epochs", type=int, help="Fine-tuning: epochs of the new head alone."
    )
    train.add_argument(
        "--unfreeze", help="Fine-tuning: 'all', or the number of last stages to train."
    )
    train.add_argument(
        "--backbone-lr-ratio",
        type=_ratio,
        help="Fine-tuning: the backbone's learning rate / the head's, or "
        "'auto' (from the linear probe; the finetune recipe's default).",
    )
    train.add_argument(
        "--layer-decay",
        type=float,
        help="Fine-tuning: a learning-rate factor per stage.",
    )
    train.add_argument(
        "--keep-last",
        dest="keep_best",
        action="store_const",
        const=False,
        help="End with the last epoch's weights, not the best validation "
        "epoch's (when the last is worse beyond noise) nor, fine-tuning, the "
        "start's (when fine-tuning does not beat it).",
    )
    batch_norm = train.add_mutually_exclusive_group()
    batch_norm.add_argument(
        "--freeze-bn",
        dest="freeze_bn",
        action="store_const",
        const=True,
        help="Fine-tuning: keep BatchNorm layers frozen (statistics and scale) "
        "in phase 2 (trained by default).",
    )
    batch_norm.add_argument(
        "--train-bn",
        dest="freeze_bn",
        action="store_const",
        const=False,
        help="Fine-tuning: train BatchNorm layers in phase 2 (the default).",
    )
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--mixup", type=float, help="MixUp alpha.")
    train.add_argument("--cutmix", type=float, help="CutMix alpha.")
    train.add_argument(
        "--rand-augment", type=int, help="RandAugment operations per image."
    )
    train.add_argument(
        "--rand-augment-magnitude", type=float, help="RandAugment strength in (0, 1]."
    )
    train.add_argument(
        "--rotation", type=float, help="Largest random rotation, in degrees."
    )
    train.add_argument(
        "--color-jitter",
        type=float,
        help="Brightness, contrast (and saturation) jitter, a fraction.",
    )
    train.add_argument(
        "--random-erasing", type=float, help="Probability of random erasing."
    )
    train.add_argument("--steps-per-execution", type=int)
    add_model_overrides(train)
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
    configure_distributed_search(args.chief, args.worker, args.oracle_address)
    search(
        args.dataset,
        args.out,
        search_options=options_from_args(args, SearchOptions),
        data=options_from_args(args, DataOptions),
    )
