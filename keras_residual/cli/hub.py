"""`keras-residual preset` and `push`: a run directory (or `.keras` file)
written as a Hub-ready preset folder, or uploaded to a Hub repository."""

from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.hub.hub_options import PresetOptions
from keras_residual.hub.hub_options import PushOptions


def add_hub_parsers(commands):
    """Adds the `preset` and `push` sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    preset = add_command_parser(commands, "preset")
    preset.add_argument("source", metavar="RUN_DIR_OR_CHECKPOINT")
    preset.add_argument("--out", required=True, help="The preset folder to write.")
    add_option_flags(preset, PresetOptions)
    preset.set_defaults(run=_preset)

    push = add_command_parser(commands, "push")
    push.add_argument("source", metavar="RUN_DIR_OR_PRESET")
    push.add_argument("repo_id", metavar="ORG/NAME")
    add_option_flags(push, PushOptions)
    push.set_defaults(run=_push)


def _preset(args):
    from keras_residual.hub.preset_writer import save_to_preset

    print(save_to_preset(args.source, args.out, options_from_args(args, PresetOptions)))


def _push(args):
    from keras_residual.hub.push import push_to_hub

    pinned = push_to_hub(
        args.source, args.repo_id, options_from_args(args, PushOptions)
    )
    print(pinned)
