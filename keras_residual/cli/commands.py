"""The sub-commands of `keras-residual`: each one's module, its one-line
help and its aliases, in the order `--help` lists them. Only the module of
the command that runs is imported, so `--help`, a mistyped command and the
light commands (`light=True`: `models`, `weights`, and `predict` on an
`.onnx` model, or a `.tflite` one where LiteRT is installed) answer
without loading TensorFlow; for any other, TensorFlow is loaded first,
quietly."""

import collections

Command = collections.namedtuple(
    "Command", "module help aliases light", defaults=((), False)
)
# The function of each module that adds its commands' parsers.
ADDERS = {
    "zoo": "add_zoo_parsers",
    "train": "add_train_parser",
    "lr_find": "add_lr_find_parser",
    "serving": "add_serving_parsers",
    "explain": "add_explain_parser",
    "hub": "add_hub_parsers",
    "env": "add_env_parser",
}

COMMANDS = {
    "models": Command("zoo", "List the model zoo.", (), light=True),
    "weights": Command(
        "zoo",
        "A model's registered weights: top-1, size, licence, source.",
        (),
        light=True,
    ),
    "blocks": Command("zoo", "List registered blocks.", ()),
    "recipes": Command("zoo", "List the training recipes.", ()),
    "summary": Command("zoo", "Build a model and print its summary.", ()),
    "train": Command(
        "train",
        "Train a model with a recipe into a run directory.",
        (),
    ),
    "search": Command(
        "train",
        "Search block family, depth and width with Keras Tuner (also `tune`).",
        ("tune",),
    ),
    "lr-find": Command(
        "lr_find",
        "Learning-rate range test: a plot of loss against rate and a suggested rate.",
        (),
    ),
    "export": Command(
        "serving",
        "Export a run directory or a .keras checkpoint.",
        (),
    ),
    "predict": Command(
        "serving",
        "Top-k classes of image files with an exported model.",
        (),
        light=True,  # loads TensorFlow itself, except for .onnx and .tflite
    ),
    "evaluate": Command(
        "serving",
        "Accuracy of an exported model on a dataset split.",
        (),
    ),
    "explain": Command(
        "explain",
        "Heat maps of where a model looks (Grad-CAM; attention rollout for "
        "ViT), as PNG overlays.",
        (),
    ),
    "preset": Command(
        "hub",
        "Write a run directory or .keras file as a preset folder.",
        (),
    ),
    "push": Command(
        "hub",
        "Upload a run, .keras file or preset folder to the Hub.",
        (),
    ),
    "env": Command(
        "env",
        "Hardware, precision probe figures and the automatic choice.",
        (),
    ),
}


def command_named(argv):
    """The sub-command `argv` asks for (an alias resolved), or None: the
    first argument that is not an option.

    Args:
        argv: list of str. The command line after the program name.
    """
    for argument in argv:
        if not argument.startswith("-"):
            for name, command in COMMANDS.items():
                if argument == name or argument in command.aliases:
                    return name
            return None
    return None


def add_command_parser(commands, name, **kwargs):
    """`commands.add_parser` for sub-command `name`, with its help and
    aliases from `COMMANDS`.

    Args:
        commands: the `add_subparsers()` object of the main parser.
        name: str. A key of `COMMANDS`.
        **kwargs: more `add_parser` arguments.
    """
    command = COMMANDS[name]
    return commands.add_parser(
        name, help=command.help, aliases=list(command.aliases), **kwargs
    )
