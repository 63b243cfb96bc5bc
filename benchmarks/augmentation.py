"""What each augmentation adds, on real data: ResNet20 trained on a seeded
draw of Fashion-MNIST with the `fast` recipe, once per augmentation, side
by side at one budget: none, the default pad-and-crop with flips, and that
plus rotation, colour jitter, random erasing or RandAugment (each alone),
and the `grey` preset; every model is also evaluated with flip test-time
augmentation. A second seed of the default gives the run-to-run noise.

    apt-get install dataset-fashion-mnist
    python -m benchmarks augmentation                # 10,000 images, 10 epochs
    python -m benchmarks augmentation --epochs 30 --result augmentation_long \
        --variants none,crop_flip,"+random erasing 0.25","+RandAugment 2 ops"
    python -m benchmarks.augmentation --smoke        # the committed slice
"""

import argparse
import os
import tempfile

from benchmarks.common import fashion_mnist_splits
from benchmarks.common import hardware
from benchmarks.common import results_folder
from benchmarks.common import write_result

# name: (augment, augmentation preset, recipe fields)
VARIANTS = {
    "none": ("none", None, {}),
    "crop_flip": ("crop_flip", None, {}),
    "+rotation 10": ("crop_flip", None, {"rotation": 10.0}),
    "+color jitter 0.3": ("crop_flip", None, {"color_jitter": 0.3}),
    "+random erasing 0.25": ("crop_flip", None, {"random_erasing": 0.25}),
    "+RandAugment 2 ops": ("crop_flip", None, {"rand_augment": 2}),
    "grey preset": ("crop_flip", "grey", {}),
}
BASELINE = "crop_flip"


def tta_accuracy(model, test_data, tta):
    """Test accuracy of a Keras model with test-time augmentation."""
    from keras_residual.core.heads import output_probabilities
    from keras_residual.serving.tta import tta_probabilities

    def predict(images):
        return output_probabilities(model, model.predict_on_batch(images))

    correct = seen = 0
    for images, labels in test_data:
        labels = labels.numpy().reshape(-1)
        probabilities = tta_probabilities(predict, images.numpy(), tta)
        correct += int((probabilities.argmax(-1) == labels).sum())
        seen += len(labels)
    return correct / seen


def sample_grid(arrays, names, path, seed=0, count=8):
    """A PNG with one row per variant: the same training images as that
    variant's pipeline draws them."""
    import numpy as np

    import keras_residual as kr
    from keras_residual.analysis.plots import pyplot
    from keras_residual.analysis.plots import save_figure

    images, labels = arrays["train"][0][:count], arrays["train"][1][:count]
    plt = pyplot()
    figure, axes = plt.subplots(
        len(names), count, figsize=(1.3 * count, 1.45 * len(names)), squeeze=False
    )
    for row, name in enumerate(names):
        augment, preset, fields = VARIANTS[name]
        recipe = kr.get_recipe("fast", **fields)
        data = kr.load_data(
            (images, labels),
            batch_size=count,
            augment=augment,
            validation_fraction=0.0,
            test_fraction=0.0,
            seed=seed,
            augmentation=recipe.augmentation(preset),
        )
        batch = (np.asarray(next(iter(data.train))[0]) + 1.0) * 127.5
        for column, axis in enumerate(axes[row]):
            axis.imshow(batch[column, ..., 0], cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row][0].set_ylabel(name, fontsize=7, rotation=0, ha="right")
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--noise-seed", type=int, default=1, help="A second seed of the default."
    )
    parser.add_argument("--data-dir", help="TFDS data directory.")
    parser.add_argument(
        "--result", default="augmentation", help="The results file's name."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs
    names = args.variants.split(",")
    if args.smoke and args.variants == parser.get_default("variants"):
        names = [BASELINE, "grey preset"]  # the code paths, at a fraction
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {list(VARIANTS)}")

    import keras_residual as kr

    arrays = fashion_mnist_splits(
        None if args.smoke else args.train_size,
        args.seed,
        args.data_dir,
        smoke=args.smoke,
    )
    test_data = kr.load_data(arrays, batch_size=256, augment="none").test
    samples = sample_grid(
        arrays,
        names,
        os.path.join(results_folder(args.smoke), f"{args.result}_samples.png"),
    )
    print("wrote", samples, flush=True)
    runs = []
    plan = [(name, args.seed) for name in names]
    if BASELINE in names and not args.smoke:
        plan.append((BASELINE, args.noise_seed))
    for name, seed in plan:
        augment, preset, fields = VARIANTS[name]
        with tempfile.TemporaryDirectory() as scratch:
            result = kr.train(
                "ResNet20",
                arrays,
                os.path.join(scratch, "run"),
                epochs=epochs,
                batch_size=args.batch_size,
                recipe="fast",
                recipe_overrides=fields,
                augment=augment,
                augmentation=preset,
                seed=seed,
                export=False,
                verbose=0,
                tensorboard=False,
            )
        metrics = result.metrics
        run = {
            "variant": name,
            "seed": seed,
            "test_accuracy": metrics["test_accuracy"],
            "tta_flip_accuracy": tta_accuracy(result.model, test_data, "flip"),
            "images_per_second": metrics["images_per_second"],
            "train_seconds": metrics["train_seconds"],
            "precision": metrics["precision"],
        }
        runs.append(run)
        print(
            f"{name:<22} seed {seed}: test {run['test_accuracy']:.4f}, with flip "
            f"TTA {run['tta_flip_accuracy']:.4f}, "
            f"{run['images_per_second']:.0f} img/s ({run['precision']})",
            flush=True,
        )
    payload = {
        "model": "ResNet20",
        "recipe": "fast",
        "train_images": len(arrays["train"][1]),
        "test_images": len(arrays["test"][1]),
        "epochs": epochs,
        "batch_size": args.batch_size,
        "baseline": BASELINE,
        "runs": runs,
        "hardware": hardware(),
    }
    print("wrote", write_result(args.result, payload, smoke=args.smoke))


def table_rows(result):
    runs = result["runs"]
    base = [r for r in runs if r["variant"] == result["baseline"]]
    first = base[0] if base else None
    label = (
        f"Fashion-MNIST augmentation ({result['train_images']:,} images, "
        f"{result['epochs']} epochs, ResNet20 `{result['recipe']}`)"
    )
    rows = []
    for run in runs:
        if run is not first and run["variant"] == result["baseline"]:
            measure = f"`{run['variant']}`, seed {run['seed']} (noise)"
        else:
            measure = f"`{run['variant']}` test accuracy"
        delta = (
            f"{100 * (run['test_accuracy'] - first['test_accuracy']):+.2f} pt"
            if first is not None and run is not first
            else "—"
        )
        rows.append(
            {
                "benchmark": label,
                "measure": measure,
                "ours": f"{100 * run['test_accuracy']:.2f}%",
                "peer": (
                    f"`{first['variant']}` {100 * first['test_accuracy']:.2f}%"
                    if first is not None and run is not first
                    else "—"
                ),
                "ratio": delta,
                "target": "each adds ≥ 0 or is left out of the presets",
            }
        )
        tta = run["tta_flip_accuracy"]
        rows.append(
            {
                "benchmark": label,
                "measure": f"`{run['variant']}` (seed {run['seed']}) + flip TTA",
                "ours": f"{100 * run['tta_flip_accuracy']:.2f}%",
                "peer": f"no TTA {100 * run['test_accuracy']:.2f}%",
                "ratio": f"{100 * (tta - run['test_accuracy']):+.2f} pt",
                "target": "≥ 0",
            }
        )
    return rows


if __name__ == "__main__":
    main()
