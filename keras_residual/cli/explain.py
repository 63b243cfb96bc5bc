"""`keras-residual explain MODEL IMAGE...`: where the model looks, as
heat-map overlays (Grad-CAM, or attention rollout for a Transformer)."""

import json
import os

import numpy as np

import keras_residual
from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocess
from keras_residual.utils.options import check_options
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group
from keras_residual.utils.validation import printable


@option_group
class ExplainOptions:
    """What `keras-residual explain` explains, and how it prints it."""

    weights: str = option(None, "Weights for a model name (e.g. digits).", cli_type=str)
    class_index: int = option(
        None,
        "The class to explain. None: each image's predicted class.",
        minimum=0,
        cli_type=int,
    )
    json: bool = option(
        False, "Print one JSON document: a list with an object per image."
    )


def load_explained_model(source, weights=None):
    """A Keras model to explain: a run directory or `.keras` file, or a
    zoo name built with `weights` (at their input size).

    Args:
        source: str. A run directory, a `.keras` file or a model name.
        weights: str or None. Weights for a model name.
    """
    from keras_residual.weights.keras_source import load_trained_model

    if os.path.isdir(source) or source.endswith(".keras"):
        if weights is not None:
            raise ValueError(
                f"`--weights` applies to a model name; {source!r} holds its own."
            )
        return load_trained_model(source, argument="MODEL", compile=False)[0]
    return keras_residual.build(source, weights=weights)


def _explain(args):
    options = options_from_args(args, ExplainOptions)
    check_options(options)
    model = load_explained_model(args.model, options.weights)
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    from keras_residual.analysis.saliency import explain
    from keras_residual.analysis.saliency import save_overlays
    from keras_residual.serving.predictor import read_images

    height, width, channels = model.input_shape[1:]
    images = read_images(args.images, channels)
    pixels = np.stack(
        [tf.image.resize(image, (height, width)).numpy() for image in images]
    )
    mode = as_preprocessing(getattr(model, "preprocessing", None)) or "tf"
    heat = explain(model, preprocess(pixels.copy(), mode), options.class_index)
    names = list(getattr(model, "class_names", None) or [])
    captions, rows = [], []  # --json: one document, printed at the end
    for path, index, score, heat_map in zip(
        args.images, heat.class_indices, heat.scores, heat.maps
    ):
        name = names[index] if index < len(names) else str(int(index))
        peak = [int(v) for v in np.unravel_index(heat_map.argmax(), heat_map.shape)]
        captions.append(f"{os.path.basename(path)}: {name} ({score:.2f})")
        if options.json:
            row = {"image": path, "class": int(index), "name": name}
            row.update(score=float(score), peak=peak, method=heat.method)
            rows.append(row)
        else:
            print(
                f"{printable(path)}: {printable(name)} ({score:.3f}); heat peaks "
                f"at row {peak[0]}, column {peak[1]} of {height}x{width}"
            )
    sizes = [image.shape[:2] for image in images]  # shown at their aspect
    save_overlays(np.clip(pixels, 0, 255), heat, args.out, captions, sizes=sizes)
    if options.json:
        print(json.dumps(rows))
    else:
        print(f"{heat.method} ({heat.layer}) overlays: {printable(args.out)}")


def add_explain_parser(commands):
    """Adds the `explain` sub-command.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    parser = add_command_parser(commands, "explain")
    parser.add_argument(
        "model", help="A run directory, a .keras file, or a model name with --weights."
    )
    parser.add_argument("images", nargs="+", help="Image files (PNG, JPEG, ...).")
    parser.add_argument("--out", required=True, help="The overlay PNG to write.")
    add_option_flags(parser, ExplainOptions)
    parser.set_defaults(run=_explain)
