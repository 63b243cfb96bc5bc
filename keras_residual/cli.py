"""`keras-residual` command line: list the zoo and blocks, summarise a model."""

import argparse
import sys


def _models(args):
    import keras_residual

    for name, description in keras_residual.list_models().items():
        tags = keras_residual.list_weights(name)
        weights = f"  [weights: {', '.join(tags)}]" if tags else ""
        print(f"{name:<18} {description}{weights}")


def _blocks(args):
    import keras_residual

    for name, description in keras_residual.list_blocks().items():
        info = keras_residual.get_block(name)
        print(f"{name:<20} merge={info.merge:<6} x{info.expansion}  {description}")


def _summary(args):
    import keras_residual

    overrides = {}
    if args.depths:
        overrides["depths"] = tuple(int(d) for d in args.depths.split(","))
    if args.width_multiplier is not None:
        overrides["width_multiplier"] = args.width_multiplier
    if args.block:
        overrides["block"] = args.block
    input_shape = None
    if args.input_size:
        input_shape = (args.input_size, args.input_size, 3)
    model = keras_residual.build(
        args.model, include_top=True, input_shape=input_shape, **overrides
    )
    if args.spec:
        print(model.spec.to_json(indent=2))
    else:
        model.summary(line_length=110)
    print(f"{model.name}: {model.count_params():,} parameters, "
          f"{len(model.layers)} layers, pyramid levels "
          f"{list(model.pyramid_outputs)}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-residual",
        description="Residual, highway and DenseNet networks for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="List the model zoo.").set_defaults(
        run=_models)
    commands.add_parser("blocks", help="List registered blocks.").set_defaults(
        run=_blocks)
    summary = commands.add_parser(
        "summary", help="Build a model and print its summary.")
    summary.add_argument("model", help="A name from `keras-residual models`.")
    summary.add_argument("--depths", help="Comma-separated blocks per stage.")
    summary.add_argument("--width-multiplier", type=float)
    summary.add_argument("--block", help="A block for every stage.")
    summary.add_argument("--input-size", type=int)
    summary.add_argument("--spec", action="store_true",
                         help="Print the JSON spec instead of the summary.")
    summary.set_defaults(run=_summary)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError) as error:
        print(f"keras-residual: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
