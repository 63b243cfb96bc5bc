"""`keras-residual models`, `blocks`, `recipes` and `summary`: looking at
the zoo, the block registry and the training recipes."""

import sys

import keras_residual
from keras_residual.cli.catalog import catalog_weights
from keras_residual.cli.catalog import read_catalog
from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.core.model_options import ModelOverrides
from keras_residual.utils.model_patterns import matching_models


def _models(args):
    catalog = read_catalog()["models"]
    entries = {
        name: (entry["description"], list(entry["weights"]))
        for name, entry in catalog.items()
    }
    models = matching_models(entries, args.patterns or None, args.pretrained)
    if not models:
        raise ValueError(
            f"No model matches {args.patterns}"
            + (" with registered weights" if args.pretrained else "")
            + "; `keras-residual models` lists them all."
        )
    for name, description in models.items():
        tags = entries[name][1]
        weights = f"  [weights: {', '.join(tags)}]" if tags else ""
        print(f"{name:<18} {description}{weights}")


def _weights(args):
    table = catalog_weights(read_catalog(), args.model)
    if not table:
        raise ValueError(
            f"No weights are registered for {args.model}; "
            "`keras-residual models --pretrained` lists the models that have some."
        )
    for tag, info in table.items():
        top1 = "n/a" if info["top1"] is None else f"{info['top1']:.2f}%"
        print(
            f"{tag:<22} top-1 {top1:<7} {info['size_mb']:>7.1f} MB  "
            f"{info['license']}  ({info['source']})"
        )


def _blocks(args):
    for name, description in keras_residual.list_blocks().items():
        info = keras_residual.get_block(name)
        print(f"{name:<20} merge={info.merge:<6} x{info.expansion}  {description}")


def _summary(args):
    overrides = options_from_args(args, ModelOverrides).given()
    input_shape = None
    if args.image_size:
        input_shape = (args.image_size, args.image_size, 3)
    model = keras_residual.build(
        args.model, include_top=True, input_shape=input_shape, **overrides
    )
    if args.spec:  # stdout holds the JSON document only
        print(model.spec.to_json(indent=2))
    else:
        model.summary(line_length=110)
    print(
        f"{model.name}: {model.count_params():,} parameters, "
        f"{len(model.layers)} layers, pyramid levels "
        f"{list(model.pyramid_outputs)}",
        file=sys.stderr if args.spec else sys.stdout,
    )


def _recipes(args):
    for name, description in keras_residual.list_recipes().items():
        print(f"{name:<8} {description}")


def add_zoo_parsers(commands):
    """Adds the `models`, `weights`, `blocks`, `recipes` and `summary`
    sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    models = add_command_parser(commands, "models")
    models.add_argument(
        "patterns",
        nargs="*",
        metavar="PATTERN",
        help="fnmatch patterns such as 'resnet5*' (any case; also matched "
        "against weights tags).",
    )
    models.add_argument(
        "--pretrained", action="store_true", help="Only models with registered weights."
    )
    models.set_defaults(run=_models)
    weights = add_command_parser(commands, "weights")
    weights.add_argument("model", help="A name from `keras-residual models`.")
    weights.set_defaults(run=_weights)
    add_command_parser(commands, "blocks").set_defaults(run=_blocks)
    add_command_parser(commands, "recipes").set_defaults(run=_recipes)
    summary = add_command_parser(commands, "summary")
    summary.add_argument("model", help="A name from `keras-residual models`.")
    add_option_flags(summary, ModelOverrides)
    summary.add_argument(
        "--image-size",
        "--input-size",  # its 0.1 name
        dest="image_size",
        type=int,
        help="Input height and width (as train --image-size).",
    )
    summary.add_argument(
        "--spec",
        action="store_true",
        help="Print the JSON spec instead of the summary.",
    )
    summary.set_defaults(run=_summary)
