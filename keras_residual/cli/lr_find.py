"""`keras-residual lr-find`: the learning-rate range test from the command
line (`keras_residual.lr_find`)."""

from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.zoo import add_model_overrides
from keras_residual.cli.zoo import model_overrides
from keras_residual.training.lr_find import lr_find


def _lr_find(args):
    result = lr_find(
        args.model,
        args.dataset,
        args.out,
        recipe=args.recipe,
        batch_size=args.batch_size,
        start=args.start,
        end=args.end,
        steps=args.steps,
        image_size=args.image_size,
        seed=args.seed,
        model_overrides=model_overrides(args),
        verbose=1,
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
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--start", type=float, default=1e-6)
    parser.add_argument("--end", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--seed", type=int, default=0)
    add_model_overrides(parser)
    parser.set_defaults(run=_lr_find)
