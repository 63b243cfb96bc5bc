"""`keras-residual` command line: list the zoo, blocks and recipes,
summarise a model, train one (and find its learning rate), search
architectures, export, predict, evaluate and explain, publish presets to
the Hub, and show the hardware and precision choice (`env`).

Only the module of the command that runs is imported (`cli/commands.py`),
and TensorFlow only for a command that needs it, with its C++ start-up
log lines silenced (unless `--debug`, or `TF_CPP_MIN_LOG_LEVEL` is set)."""

import argparse
import importlib
import re
import sys
import warnings

from keras_residual.cli.commands import ADDERS
from keras_residual.cli.commands import COMMANDS
from keras_residual.cli.commands import command_named
from keras_residual.cli.quiet_import import import_for_command
from keras_residual.utils.validation import close_matches
from keras_residual.utils.validation import printable
from keras_residual.version import __version__


class SuggestingParser(argparse.ArgumentParser):
    """An argument parser whose "invalid choice" error (a mistyped command
    or option value) names the close matches, as the Python API does."""

    def error(self, message):
        """Exits with `message` and, for an invalid choice, close matches.

        Args:
            message: str. argparse's error message.
        """
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            allowed = re.findall(r"'([^']*)'", wrong.group(2))
            suggestions = close_matches(wrong.group(1), allowed)
            if suggestions:
                message += f". Did you mean {' or '.join(map(repr, suggestions))}?"
        super().error(message)


def build_parser(command=None):
    """The `keras-residual` argument parser: every sub-command by name and
    help, and the full parser of `command` (and of the commands in its
    module).

    Args:
        command: str or None. The sub-command to parse. Defaults to `None`
            (only `--help` and the list of commands).
    """
    parser = SuggestingParser(
        prog="keras-residual",
        description="Residual, highway and DenseNet networks for Keras 3.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Show Python's traceback and TensorFlow's log instead of a "
        "one-line error.",
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-residual {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    wanted = COMMANDS[command] if command else None
    for name, info in COMMANDS.items():  # the others: name and help only
        if wanted is None or info.module != wanted.module:
            commands.add_parser(name, help=info.help, aliases=list(info.aliases))
    if wanted is not None:
        module = importlib.import_module(f"keras_residual.cli.{wanted.module}")
        getattr(module, ADDERS[wanted.module])(commands)
    return parser


def main(argv=None):
    """Runs `keras-residual` with `argv` (defaults to `sys.argv[1:]`) and
    returns the exit code: 0, 2 for bad input, 3 for a diverged run.

    Args:
        argv: list of str or None. The arguments. Defaults to `sys.argv[1:]`.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--debug" in argv:
        return _run(argv)
    shown = warnings.formatwarning
    warnings.formatwarning = _one_line_warning  # not the warning's source
    try:
        return _run(argv)
    finally:
        warnings.formatwarning = shown


def _run(argv):
    command = command_named(argv)
    args = build_parser(command).parse_args(argv)  # light: --help loads no TF
    if not COMMANDS[command].light:
        import_for_command(quiet=not args.debug)
    try:
        args.run(args)
    except Exception as error:
        if _diverged(error):
            print(f"keras-residual: {printable(error)}", file=sys.stderr)
            return 3
        if args.debug:
            raise
        if isinstance(error, (ValueError, TypeError)):
            print(f"keras-residual: error: {printable(error)}", file=sys.stderr)
        else:  # a file or input no check named
            print(
                f"keras-residual: error: {type(error).__name__}: "
                f"{printable(error) or 'no details'} (--debug shows the traceback)",
                file=sys.stderr,
            )
        return 2
    return 0


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"keras-residual: warning: {message} ({category.__name__})\n"


def _diverged(error):
    """Whether `error` is a `TrainingDiverged` (whose module is loaded
    only by the commands that train)."""
    module = sys.modules.get("keras_residual.training.train")
    return module is not None and isinstance(error, module.TrainingDiverged)
