"""Trains the reference models of `saved_models/`, `weights="digits"`,
`weights="fashion_mnist"` and `weights="spoken_digit"`.

Each model is trained on the dataset with the `fast` recipe (the spoken
digits: `speech`, with 64 mel bands), then:

- exported as a SavedModel with a model card to
  `saved_models/<Model>-<dataset>/`;
- saved as `keras_residual/weights/pretrained/<Model>-<dataset>.h5` (the
  legacy HDF5 layout of the keras.applications weight files), listed with
  its sha256 and test accuracy in the dataset's manifest
  (`keras_residual/weights/pretrained/manifest.json` for digits,
  `manifest-fashion_mnist.json` for Fashion-MNIST), which registers it as
  `keras_residual.<Model>(weights=<dataset>)`.

The test accuracy recorded is the served SavedModel's: for Fashion-MNIST,
its `serving_default` signature fed the 10,000 raw uint8 28x28 test images;
for the spoken digits (an audio model: its front end is in the manifest),
`serving_default` fed the 250 test clips as int16 samples, and the model is
also exported to float32 and int8 TFLite beside the SavedModel
(`saved_models/<Model>-spoken_digit.tflite`, `...-int8.tflite`), each
scored the same way.

    python examples/reference_models.py                  # digits, all of them
    python examples/reference_models.py --models ResNet20
    apt-get install dataset-fashion-mnist
    python examples/reference_models.py --dataset fashion_mnist
    KERAS_RESIDUAL_DATA_DIR=../shared/datasets \
        python examples/reference_models.py --dataset spoken_digit
"""

import argparse
import json
import os

import numpy as np

import keras_residual
from keras_residual.serving.evaluation import evaluate_export
from keras_residual.utils.atomic import write_json
from keras_residual.utils.download import file_digest
from keras_residual.weights import save_legacy_weights
from keras_residual.weights.digits import manifest_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(ROOT, "keras_residual", "weights", "pretrained")
SAVED_MODELS = os.path.join(ROOT, "saved_models")

# Epochs per model and dataset: DenseNet-BC-100 costs about 8x ResNet20 per
# epoch on CPU; Fashion-MNIST has 54,000 training images (digits 1,259).
REFERENCE_EPOCHS = {
    "digits": {"ResNet20": 30, "HighwayNet20": 30, "DenseNetBC100": 12},
    "fashion_mnist": {"ResNet20": 40},
    "spoken_digit": {"ResNet20": 40},
}
# The batch size per dataset (None: the recipe's, 64).
BATCH_SIZES = {"digits": None, "fashion_mnist": 128, "spoken_digit": None}
# The recipe per dataset: `speech` (AdamW) beat `fast` by 11.6 points on the
# spoken digits (docs/speech.md).
RECIPES = {"digits": "fast", "fashion_mnist": "fast", "spoken_digit": "speech"}
# Model overrides per dataset: 64 mel bands for speech (docs/speech.md).
OVERRIDES = {"spoken_digit": {"front_end": {"kind": "log_mel", "mel_bins": 64}}}


def reproduce(
    name,
    epochs,
    runs_dir,
    verbose,
    saved_models=SAVED_MODELS,
    pretrained=PRETRAINED,
    dataset="digits",
    data_dir=None,
):
    result = keras_residual.train(
        name,
        dataset,
        os.path.join(runs_dir, name),
        epochs=epochs,
        batch_size=BATCH_SIZES[dataset],
        recipe=RECIPES[dataset],
        model_overrides=OVERRIDES.get(dataset),
        seed=0,
        data_dir=data_dir,
        export=False,
        resume=os.path.isfile(os.path.join(runs_dir, name, "run.json")),
        verbose=verbose,
    )
    export_dir = os.path.join(saved_models, f"{name}-{dataset}")
    audio = result.model.front_end is not None
    keras_residual.export(
        result.model,
        export_dir,
        preprocessing=None if audio else "tf",
        class_names=result.metrics["class_names"],
        metrics=result.metrics,
        overwrite=True,
    )
    served = evaluate_export(export_dir, dataset, data_dir=data_dir, verbose=0)
    if dataset == "fashion_mnist":
        served = served_on_raw_images(export_dir, data_dir)
    file_name = f"{name}-{dataset}.h5"
    weights_path = os.path.join(pretrained, file_name)
    # The keras.applications layout, so that a model with other `classes`
    # can load all but the classifier.
    save_legacy_weights(result.model, weights_path)
    if audio:
        return dict(
            audio_entry(result, export_dir, dataset, data_dir),
            file=file_name,
            sha256=file_digest(weights_path, "sha256"),
            epochs=epochs,
            test_accuracy=served["accuracy"],
            command="python examples/reference_models.py --dataset "
            f"{dataset} --models {name}",
        )
    return {
        "file": file_name,
        "sha256": file_digest(weights_path, "sha256"),
        "classes": result.metrics["classes"],
        "input_channels": result.metrics["image_shape"][-1],
        "input_size": result.metrics["image_shape"][0],
        "class_names": result.metrics["class_names"],
        "preprocessing": result.metrics["preprocessing"],
        "epochs": epochs,
        "batch_size": BATCH_SIZES[dataset] or 64,
        "recipe": RECIPES[dataset],
        "trained_precision": result.metrics["precision"],
        "test_accuracy": served["accuracy"],
        "saved_model": os.path.relpath(export_dir, ROOT).replace(os.sep, "/"),
        "command": "python examples/reference_models.py --dataset "
        f"{dataset} --models {name}",
    }


def audio_entry(result, export_dir, dataset, data_dir):
    """An audio model's manifest fields, and its float32 and int8 TFLite
    exports beside the SavedModel, each scored on the test clips."""
    data = keras_residual.load_data(dataset, data_dir=data_dir, augment="none")
    tflite = {}
    for mode, suffix in ((None, ""), ("int8", "-int8")):
        path = keras_residual.export(
            result.model,
            f"{export_dir}{suffix}.tflite",
            "tflite",
            quantize=mode,
            representative_data=data,
            class_names=result.metrics["class_names"],
            overwrite=True,
        )
        scored = evaluate_export(path, dataset, data_dir=data_dir, verbose=0)
        tflite[mode or "float32"] = {
            "file": os.path.relpath(path, ROOT).replace(os.sep, "/"),
            "test_accuracy": scored["accuracy"],
        }
    return {
        "classes": result.metrics["classes"],
        "input_channels": 1,
        "input_size": None,
        "class_names": result.metrics["class_names"],
        "preprocessing": None,
        "front_end": result.model.front_end.get_config(),
        "batch_size": 64,
        "recipe": RECIPES[dataset],
        "trained_precision": result.metrics["precision"],
        "saved_model": os.path.relpath(export_dir, ROOT).replace(os.sep, "/"),
        "tflite": tflite,
    }


def served_on_raw_images(export_dir, data_dir=None):
    """The SavedModel's `serving_default` fed Fashion-MNIST's 10,000 test
    images as the raw uint8 28x28x1 arrays of the IDX file."""
    from keras_residual.data import fashion_mnist
    from keras_residual.serving.predictor import load_predictor

    images, labels = fashion_mnist.load_arrays(data_dir)["test"]
    predictor = load_predictor(export_dir)
    predicted = np.concatenate(
        [
            predictor.predict_images(images[i : i + 500]).argmax(-1)
            for i in range(0, len(images), 500)
        ]
    )
    return {"accuracy": float((predicted == labels).mean()), "examples": len(labels)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(REFERENCE_EPOCHS))
    parser.add_argument(
        "--models",
        nargs="+",
        help="Defaults to every reference model of --dataset.",
        choices=sorted({m for models in REFERENCE_EPOCHS.values() for m in models}),
    )
    parser.add_argument("--data-dir", help="TFDS data directory.")
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
    epochs = REFERENCE_EPOCHS[args.dataset]
    models = args.models or list(epochs)
    unknown = sorted(set(models) - set(epochs))
    if unknown:
        parser.error(f"--dataset {args.dataset} has no reference {unknown}")
    manifest_path = os.path.join(args.pretrained, manifest_name(args.dataset))
    manifest = {}
    if os.path.isfile(manifest_path):
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    for name in models:
        manifest[name] = reproduce(
            name,
            args.epochs or epochs[name],
            os.path.join(args.runs_dir, args.dataset),
            args.verbose,
            args.saved_models,
            args.pretrained,
            args.dataset,
            args.data_dir,
        )
        write_json(manifest_path, manifest)
        print(
            f"{name}: test accuracy {manifest[name]['test_accuracy']:.4f} "
            f"(SavedModel, float32) -> {manifest[name]['saved_model']}"
        )


if __name__ == "__main__":
    main()
