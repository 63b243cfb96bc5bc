"""The training recipes on real data: ResNet20 (and the other models with
shipped Fashion-MNIST weights) on Fashion-MNIST with the `he2015`,
`modern` and `fast` recipes at one budget, side by side: test accuracy
after every epoch, wall time and images/s, a curves PNG
(`benchmarks/results/fashion_mnist.png`), and the published results of the
dataset's benchmark table beside them.

Every recipe gets the same epochs and batch size (128; learning rates scale
linearly from each recipe's own batch size) on the same seeded draw of
training images (10% of them held out for validation); the 10,000 test
images are untouched. The shipped `weights="fashion_mnist"` (all 54,000
training images, `fast`, 40 epochs) are listed too.

    apt-get install dataset-fashion-mnist
    python -m benchmarks fashion_mnist                      # 15,000 images, 10 epochs
    python -m benchmarks fashion_mnist --train-size 60000 --epochs 40
    python -m benchmarks.fashion_mnist --smoke              # the committed slice
"""

import argparse
import os
import statistics
import tempfile

from benchmarks.common import epoch_test_accuracy
from benchmarks.common import fashion_mnist_splits
from benchmarks.common import hardware
from benchmarks.common import results_folder
from benchmarks.common import write_result

RECIPES = ("he2015", "modern", "fast")
# The Fashion-MNIST README's benchmark table (submitted results), as quoted
# in shared/REFERENCE.md.
PUBLISHED = {
    "human (crowd, no fashion expertise)": 83.5,
    "ResNet18, 11M params (flips, translation, rotation)": 94.9,
    "DenseNet-BC, 768K params (crop + flip)": 95.4,
    "WRN-28-10, 36M params (crop + flip)": 95.9,
    "WRN-40-4, 8.9M params": 96.7,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ResNet20")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--train-size",
        type=int,
        default=15000,
        help="Training images drawn from the 60,000. Defaults to 15,000.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="TFDS data directory.")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs
    models = args.models.split(",")
    recipes = args.recipes.split(",")

    import keras_residual as kr
    from keras_residual.analysis.plots import plot_series
    from keras_residual.weights import FASHION_MNIST_WEIGHTS

    arrays = fashion_mnist_splits(
        None if args.smoke else args.train_size,
        args.seed,
        args.data_dir,
        smoke=args.smoke,
    )
    test_data = kr.load_data(arrays, batch_size=256, augment="none").test
    runs, curves = [], {}
    for model in models:
        for recipe in recipes:
            probe = epoch_test_accuracy(test_data)
            with tempfile.TemporaryDirectory() as scratch:
                result = kr.train(
                    model,
                    arrays,
                    os.path.join(scratch, "run"),
                    epochs=epochs,
                    batch_size=args.batch_size,
                    recipe=recipe,
                    seed=args.seed,
                    export=False,
                    verbose=0,
                    callbacks=[probe],
                )
            accuracies = [accuracy for _, _, accuracy in probe.curve]
            metrics = result.metrics
            runs.append(
                {
                    "model": model,
                    "recipe": recipe,
                    "test_accuracy": metrics["test_accuracy"],
                    "best_test_accuracy": max(accuracies),
                    "train_seconds": metrics["train_seconds"],
                    "wall_seconds": metrics["wall_seconds"],
                    "images_per_second": metrics["images_per_second"],
                    "precision": metrics["precision"],
                    "curve": probe.curve,
                }
            )
            curves[f"{model} {recipe}"] = (
                list(range(1, epochs + 1)),
                [100.0 * a for a in accuracies],
            )
            print(
                f"{model} {recipe:<7} test accuracy {metrics['test_accuracy']:.4f} "
                f"(best epoch {max(accuracies):.4f}), "
                f"{metrics['train_seconds']:.0f} s, "
                f"{metrics['images_per_second']:.0f} img/s, {metrics['precision']}",
                flush=True,
            )
    plot = plot_series(
        curves,
        os.path.join(results_folder(args.smoke), "fashion_mnist.png"),
        xlabel="epoch",
        ylabel="test accuracy (%)",
        title=f"Fashion-MNIST, {len(arrays['train'][1]):,} training images: recipes",
    )
    shipped = {
        name: {
            "test_accuracy": entry["test_accuracy"],
            "epochs": entry["epochs"],
            "recipe": entry["recipe"],
        }
        for name, entry in FASHION_MNIST_WEIGHTS.items()
    }
    print("Published (Fashion-MNIST README benchmark table):")
    for name, accuracy in PUBLISHED.items():
        print(f"  {name:<55} {accuracy:.1f}%")
    for name, entry in shipped.items():
        print(
            f"  ours: {name} weights='fashion_mnist' (54,000 images, "
            f"{entry['recipe']}, {entry['epochs']} epochs) "
            f"{100 * entry['test_accuracy']:.2f}%"
        )
    payload = {
        "train_images": len(arrays["train"][1]),
        "test_images": len(arrays["test"][1]),
        "epochs": epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "runs": runs,
        "best_recipe": max(runs, key=lambda r: r["test_accuracy"])["recipe"],
        "median_images_per_second": statistics.median(
            r["images_per_second"] for r in runs
        ),
        "shipped": shipped,
        "published": PUBLISHED,
        "plot": "benchmarks/results/fashion_mnist.png",
        "hardware": hardware(),
    }
    print("wrote", plot, write_result("fashion_mnist", payload, smoke=args.smoke))


def table_rows(result):
    rows = []
    fast = next((r for r in result["runs"] if r["recipe"] == "fast"), None)
    for run in result["runs"]:
        peer = fast if run is not fast else None
        rows.append(
            {
                "benchmark": f"Fashion-MNIST recipes ({result['train_images']:,} "
                f"images, {result['epochs']} epochs)",
                "measure": f"{run['model']} `{run['recipe']}` test accuracy",
                "ours": f"{100 * run['test_accuracy']:.2f}%",
                "peer": f"`fast` {100 * peer['test_accuracy']:.2f}%" if peer else "—",
                "ratio": "—",
                "target": "ResNet18 94.9% (published, full data)",
            }
        )
    for name, entry in result["shipped"].items():
        rows.append(
            {
                "benchmark": "Fashion-MNIST shipped weights",
                "measure": f"{name} weights='fashion_mnist', SavedModel on raw "
                "uint8 test images",
                "ours": f"{100 * entry['test_accuracy']:.2f}%",
                "peer": "ResNet18 94.9%",
                "ratio": "—",
                "target": "≥ 94.0%",
            }
        )
    return rows


if __name__ == "__main__":
    main()
