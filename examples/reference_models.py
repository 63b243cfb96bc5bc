"""Trains the reference models of `saved_models/` and `weights="digits"`.

Each model is trained on the embedded digits with the `fast` recipe, then:

- exported as a SavedModel with a model card to `saved_models/<Model>-digits/`;
- saved as `keras_residual/weights/pretrained/<Model>-digits.h5` (the legacy HDF5
  layout of the keras.applications weight files), listed with
  its sha256 and test accuracy in `keras_residual/weights/pretrained/manifest.json`,
  which registers it as `keras_residual.<Model>(weights="digits")`.

    python examples/reference_models.py                  # all of them
    python examples/reference_models.py --models ResNet20
"""

import argparse
import json
import os

import keras_residual
from keras_residual.serving.evaluation import evaluate_export
from keras_residual.utils.atomic import write_json
from keras_residual.utils.download import file_digest
from keras_residual.weights import save_legacy_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(ROOT, "keras_residual", "weights", "pretrained")
SAVED_MODELS = os.path.join(ROOT, "saved_models")

# Epochs per model: DenseNet-BC-100 costs about 8x ResNet20 per epoch on CPU.
REFERENCE_EPOCHS = {"ResNet20": 30, "HighwayNet20": 30, "DenseNetBC100": 12}


def reproduce(
    name, epochs, runs_dir, verbose, saved_models=SAVED_MODELS, pretrained=PRETRAINED
):
    result = keras_residual.train(
        name,
        "digits",
        os.path.join(runs_dir, name),
        epochs=epochs,
        recipe="fast",
        seed=0,
        export=False,
        verbose=verbose,
    )
    export_dir = os.path.join(saved_models, f"{name}-digits")
    keras_residual.export(
        result.model,
        export_dir,
        preprocessing="tf",
        class_names=result.metrics["class_names"],
        metrics=result.metrics,
        overwrite=True,
    )
    served = evaluate_export(export_dir, "digits", verbose=0)
    file_name = f"{name}-digits.h5"
    weights_path = os.path.join(pretrained, file_name)
    # The keras.applications layout, so that a model with other `classes`
    # can load all but the classifier.
    save_legacy_weights(result.model, weights_path)
    return {
        "file": file_name,
        "sha256": file_digest(weights_path, "sha256"),
        "classes": result.metrics["classes"],
        "input_channels": result.metrics["image_shape"][-1],
        "input_size": result.metrics["image_shape"][0],
        "class_names": result.metrics["class_names"],
        "preprocessing": result.metrics["preprocessing"],
        "epochs": epochs,
        "recipe": "fast",
        "trained_precision": result.metrics["precision"],
        "test_accuracy": served["accuracy"],
        "saved_model": os.path.relpath(export_dir, ROOT).replace(os.sep, "/"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(REFERENCE_EPOCHS),
        choices=list(REFERENCE_EPOCHS),
    )
    parser.add_argument(
        "--runs-dir",
        default="runs/reference",
        help="Where the training runs go (resumable).",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument(
        "--epochs", type=int, help="Override every model's epochs (smoke runs)."
    )
    parser.add_argument(
        "--saved-models",
        default=SAVED_MODELS,
        help="Where the SavedModels go. Defaults to saved_models/.",
    )
    parser.add_argument(
        "--pretrained",
        default=PRETRAINED,
        help="Where the weights and manifest go. Defaults to "
        "keras_residual/weights/pretrained/.",
    )
    args = parser.parse_args(argv)
    manifest_path = os.path.join(args.pretrained, "manifest.json")
    manifest = {}
    if os.path.isfile(manifest_path):
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    for name in args.models:
        manifest[name] = reproduce(
            name,
            args.epochs or REFERENCE_EPOCHS[name],
            args.runs_dir,
            args.verbose,
            args.saved_models,
            args.pretrained,
        )
        write_json(manifest_path, manifest)
        print(
            f"{name}: test accuracy {manifest[name]['test_accuracy']:.4f} "
            f"(SavedModel, float32) -> {manifest[name]['saved_model']}"
        )


if __name__ == "__main__":
    main()
