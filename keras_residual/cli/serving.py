"""`keras-residual export`, `predict` and `evaluate`: the hand-off from a
training run to a served model, and checks on the served model."""

import json
import os

from keras_residual.cli.commands import add_command_parser
from keras_residual.cli.options import add_option_flags
from keras_residual.cli.options import options_from_args
from keras_residual.cli.quiet_import import import_for_command
from keras_residual.serving.endpoints import FORMATS
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.predictor import read_images
from keras_residual.serving.serving_options import EvaluateOptions
from keras_residual.serving.serving_options import ExportOptions
from keras_residual.serving.serving_options import PredictOptions
from keras_residual.serving.tflite_runtime import has_litert
from keras_residual.utils.atomic import write_json
from keras_residual.utils.deprecation import warn_once
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import printable

# `predict` on these loads no TensorFlow: ONNX Runtime or LiteRT (the
# `serve` extra) runs the model and Pillow decodes the images.
ONNX_SUFFIX, TFLITE_SUFFIX = ".onnx", ".tflite"


def add_serving_parsers(commands):
    """Adds the `export`, `predict` and `evaluate` sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    _add_export_parser(commands)
    _add_predict_parser(commands)
    _add_evaluate_parser(commands)


def _add_export_parser(commands):
    export = add_command_parser(commands, "export")
    export.add_argument(
        "source",
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="A `keras-residual train` run directory or a .keras file.",
    )
    export.add_argument("--format", default="saved_model", choices=FORMATS)
    export.add_argument("--out", required=True, help="Destination path.")
    add_option_flags(export, ExportOptions)
    export.add_argument(
        "--dataset",
        help="Calibration data for --quantize int8, and the test split whose "
        "accuracy the model card records (e.g. digits).",
    )
    export.set_defaults(run=_export)


def _add_predict_parser(commands):
    predict = add_command_parser(commands, "predict")
    predict.add_argument(
        "model",
        metavar="MODEL_PATH",
        help="A SavedModel directory (or TF Serving base directory), .tflite, "
        ".onnx or .keras file.",
    )
    predict.add_argument(
        "images",
        nargs="+",
        help="PNG, JPEG, BMP or GIF files; WAV files for an audio model.",
    )
    add_option_flags(predict, PredictOptions)
    predict.set_defaults(run=_predict)


def _add_evaluate_parser(commands):
    evaluate = add_command_parser(commands, "evaluate")
    evaluate.add_argument("model", metavar="MODEL_PATH")
    evaluate.add_argument("--dataset", default="digits")
    add_option_flags(evaluate, EvaluateOptions)
    evaluate.add_argument(
        "--json",
        nargs="?",
        const=True,
        default=False,
        metavar="FILE",
        help="Print the results as one JSON object (as predict --json does). "
        "`--json FILE`, the 0.1 form, still writes FILE (use --out).",
    )
    evaluate.add_argument("--out", help="Also write the results (JSON) to this file.")
    evaluate.set_defaults(run=_evaluate)


def _export(args):
    from keras_residual.data.loader import load_data
    from keras_residual.serving.export import export
    from keras_residual.training.runs import load_trained_model

    model, metrics = load_trained_model(args.source)
    options = options_from_args(args, ExportOptions)
    preprocessing = options.preprocessing
    if metrics and preprocessing == "auto":
        preprocessing = metrics.get("preprocessing", "auto")
    representative = None
    front_end = getattr(model, "front_end", None)
    if args.dataset and front_end is not None:  # clips at the model's rate
        representative = load_data(
            args.dataset, augment="none", **front_end.data_options()
        )
    elif args.dataset:
        mode = preprocessing
        if mode in ("none", "auto"):
            mode = getattr(model, "preprocessing", None) or "tf"
        representative = load_data(
            args.dataset,
            image_size=tuple(model.input.shape[1:3]),
            augment="none",
            preprocessing=mode,
        )
    path = export(
        model,
        args.out,
        args.format,
        options,
        preprocessing=preprocessing,
        metrics=metrics,
        class_names=(metrics or {}).get("class_names"),
        representative_data=representative,
    )
    print(
        f"Exported {model.name} ({model.count_params():,} parameters) as "
        f"{args.format} to {path}"
    )


def _runs_without_tensorflow(path):
    """Whether a model file runs without TensorFlow: `.onnx`, and `.tflite`
    where LiteRT is installed."""
    return path.endswith(ONNX_SUFFIX) or (path.endswith(TFLITE_SUFFIX) and has_litert())


def _predict(args):
    check_int("--top-k", args.top_k, minimum=1)
    light = os.path.isfile(args.model) and _runs_without_tensorflow(args.model)
    if not light:
        import_for_command(quiet=not args.debug)
    predictor = load_predictor(args.model, trust=args.trust)
    if getattr(predictor, "sample_rate", None):  # an audio model: WAV files
        from keras_residual.data.wav import read_wav

        clips = [read_wav(path, predictor.sample_rate) for path in args.images]
        scores = predictor.predict_clips(clips)
    else:
        scores = _image_scores(predictor, args.images, light)
    names = predictor.class_names
    answers = []  # --json: one document, printed when every file is done
    for path, probabilities in zip(args.images, scores):
        top_k = min(args.top_k, len(probabilities))
        order = probabilities.argsort()[::-1][:top_k]
        ranked = [
            {
                "class": int(i),
                "name": names[i] if names else str(int(i)),
                "score": float(probabilities[i]),
            }
            for i in order
        ]
        if args.json:
            answers.append({"image": path, "top_k": ranked})
        else:
            shown = ", ".join(
                f"{printable(r['name'])} ({r['score']:.3f})" for r in ranked
            )
            print(f"{printable(path)}: {shown}")
    if args.json:
        print(json.dumps(answers))


def _image_scores(predictor, paths, light):
    """Probabilities per image file, decoded by Pillow where `light`."""
    if not predictor.preprocessing:
        raise ValueError(
            f"{predictor.path!r} was exported without embedded preprocessing "
            "(preprocessing='none'), so it cannot take image files."
        )
    images = read_images(paths, predictor.channels, "pillow" if light else "tensorflow")
    return [predictor.predict_images(image[None])[0] for image in images]


def _evaluate(args):
    from keras_residual.serving.evaluation import evaluate_export

    options = options_from_args(args, EvaluateOptions)
    results = evaluate_export(
        args.model,
        args.dataset,
        options,
        verbose=0 if args.json is True else 1,  # stdout holds the JSON only
    )
    out = args.out
    if isinstance(args.json, str):  # 0.1: `--json FILE` wrote the file
        warn_once(
            ("evaluate", "--json FILE"),
            "`evaluate --json FILE` is deprecated: --json prints JSON, as in "
            "predict; write the file with --out FILE.",
        )
        out = out or args.json
    if args.json is True:
        print(json.dumps(results))
    else:
        print(
            f"{printable(args.model)} on {printable(args.dataset)} {args.split} "
            f"({results['examples']} {results['unit']}): accuracy "
            f"{results['accuracy']:.4f}, loss {results['loss']:.4f}"
            + (f" (TTA {args.tta})" if args.tta != "none" else "")
            + (
                f"; macro F1 {results['macro_f1']:.4f}, report in "
                f"{printable(args.report)}"
                if args.report
                else ""
            )
        )
    if out:
        write_json(out, results)
