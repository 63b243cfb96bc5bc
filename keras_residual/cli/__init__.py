"""`keras-residual` command line: list the zoo, blocks and recipes,
summarise a model, train one (and find its learning rate), search
architectures, export, predict, evaluate and explain, publish presets to
the Hub, and show the hardware and precision choice (`env`)."""

import argparse
import sys

from keras_residual.cli.env import add_env_parser
from keras_residual.cli.explain import add_explain_parser
from keras_residual.cli.hub import add_hub_parsers
from keras_residual.cli.lr_find import add_lr_find_parser
from keras_residual.cli.serving import add_serving_parsers
from keras_residual.cli.train import add_train_parser
from keras_residual.cli.zoo import add_zoo_parsers
from keras_residual.training.train import TrainingDiverged
from keras_residual.utils.validation import printable


def build_parser():
    """The `keras-residual` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="keras-residual",
        description="Residual, highway and DenseNet networks for Keras 3.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Show Python's traceback instead of a one-line error.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_zoo_parsers(commands)
    add_train_parser(commands)
    add_lr_find_parser(commands)
    add_serving_parsers(commands)
    add_explain_parser(commands)
    add_hub_parsers(commands)
    add_env_parser(commands)
    return parser


def main(argv=None):
    """Runs `keras-residual` with `argv` (defaults to `sys.argv[1:]`) and
    returns the exit code: 0, 2 for bad input, 3 for a diverged run.

    Args:
        argv: list of str or None. The arguments. Defaults to `sys.argv[1:]`.
    """
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except TrainingDiverged as error:
        print(f"keras-residual: {printable(error)}", file=sys.stderr)
        return 3
    except (ValueError, TypeError) as error:
        if args.debug:
            raise
        print(f"keras-residual: error: {printable(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # a file or input no check above named
        if args.debug:
            raise
        print(
            f"keras-residual: error: {type(error).__name__}: "
            f"{printable(error) or 'no details'} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 2
    return 0
