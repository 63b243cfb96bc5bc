"""`keras-residual preset` and `push`: a run directory (or `.keras` file)
written as a Hub-ready preset folder, or uploaded to a Hub repository."""

from keras_residual.cli.commands import add_command_parser
from keras_residual.hub.preset_writer import save_to_preset
from keras_residual.hub.push import push_to_hub


def add_hub_parsers(commands):
    """Adds the `preset` and `push` sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    preset = add_command_parser(commands, "preset")
    preset.add_argument("source", metavar="RUN_DIR_OR_CHECKPOINT")
    preset.add_argument("--out", required=True, help="The preset folder to write.")
    preset.add_argument(
        "--license", default="other", help="The model card's licence id."
    )
    preset.add_argument(
        "--overwrite", action="store_true", help="Replace an existing folder."
    )
    preset.set_defaults(run=_preset)

    push = add_command_parser(commands, "push")
    push.add_argument("source", metavar="RUN_DIR_OR_PRESET")
    push.add_argument("repo_id", metavar="ORG/NAME")
    push.add_argument(
        "--private", action="store_true", help="Create the repository private."
    )
    push.add_argument("--license", default="other", help="The model card's licence id.")
    push.add_argument("--message", help="The commit message.")
    push.set_defaults(run=_push)


def _preset(args):
    print(
        save_to_preset(
            args.source, args.out, license=args.license, overwrite=args.overwrite
        )
    )


def _push(args):
    pinned = push_to_hub(
        args.source,
        args.repo_id,
        private=args.private or None,
        commit_message=args.message,
        license=args.license,
    )
    print(pinned)
