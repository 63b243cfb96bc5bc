"""`keras-residual lr-find`: the learning-rate range test from the command
line (`keras_residual.lr_find`)."""

from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.core.model_options import ModelOverrides
from keras_residual.training.options import LRFindOptions


def _lr_find(args):
    from keras_residual.training.lr_find import lr_find

    result = lr_find(
        args.model,
        args.dataset,
        args.out,
        options_from_args(args, LRFindOptions),
        model_overrides=options_from_args(args, ModelOverrides).given(),
    )
    if result.suggestion is None:
        print(
            f"The loss never fell between {args.start:g} and {args.end:g}; "
            f"see {result.plot}. Try a wider range or more --steps."
        )
        return
    print(
        f"Suggested learning rate {result.suggestion:.3g} at batch size "
        f"{result.batch_size} (recipe learning_rate "
        f"{result.recipe_learning_rate:.3g}: --learning-rate "
        f"{result.recipe_learning_rate:.3g}); steepest fall at "
        f"{result.steepest:.3g}. Plot: {result.plot}"
    )


def add_lr_find_parser(commands):
    """Adds the `lr-find` sub-command.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    parser = add_command_parser(commands, "lr-find")
    parser.add_argument("model", nargs="?", default="ResNet20")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument(
        "--out", required=True, help="Folder for lr_find.png and lr_find.json."
    )
    add_option_flags(parser, LRFindOptions)
    add_option_flags(parser, ModelOverrides)
    parser.set_defaults(run=_lr_find)
