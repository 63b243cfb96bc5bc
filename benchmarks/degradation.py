"""He et al. 2015's degradation experiment (Fig. 6), on the embedded digits
or on Fashion-MNIST (real 28x28 images, offline).

Trains PlainNet20, PlainNet56, ResNet20 and ResNet56 with the same recipe
(`he2015`'s SGD, momentum 0.9, wd 1e-4, batch 128, step decay at 50%/75%,
shortened to --epochs), measures test error after every epoch, and plots
training and test error per epoch in one PNG
(`benchmarks/results/degradation[_fashion_mnist].png`), with a table. The
paper's claim: the deeper plain net has *higher* training error than the
shallower one, and the deeper residual net a lower one than the shallower.

On digits the learning rate defaults to 0.02, not the paper's 0.1: there
(10 steps per epoch) 0.1 stalled ResNet56 at ~73% training error for all 30
epochs, and even after a 0.01 warm-up (He et al.'s ResNet-110 remedy) it
blew up on returning to 0.1. On Fashion-MNIST (70+ steps per epoch) it is
the paper's 0.1.

    python -m benchmarks degradation                          # digits, 30 epochs
    python -m benchmarks degradation --dataset fashion_mnist  # 15,000, 10 epochs
    python -m benchmarks.degradation --smoke  # 1 epoch, few images, 1-2 blocks
"""

import argparse
import os
import tempfile

from benchmarks.common import epoch_test_accuracy
from benchmarks.common import fashion_mnist_splits
from benchmarks.common import hardware
from benchmarks.common import results_folder
from benchmarks.common import write_result

MODELS = ("PlainNet20", "PlainNet56", "ResNet20", "ResNet56")
# dataset: (epochs, learning rate, training images; None: all of them)
DEFAULTS = {"digits": (30, 0.02, None), "fashion_mnist": (10, 0.1, 15000)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(DEFAULTS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument(
        "--train-size",
        type=int,
        help="Fashion-MNIST: training images drawn from the 60,000 "
        "(10%% of them held out for validation). Defaults to 15,000.",
    )
    parser.add_argument("--data-dir", help="TFDS data directory.")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    epochs, learning_rate, train_size = DEFAULTS[args.dataset]
    epochs = 1 if args.smoke else (args.epochs or epochs)
    learning_rate = args.learning_rate or learning_rate
    train_size = args.train_size or train_size

    import keras_residual as kr
    from keras_residual.analysis.plots import plot_panels
    from keras_residual.data import load_digits_arrays

    if args.dataset == "fashion_mnist":
        arrays = fashion_mnist_splits(
            train_size, args.seed, args.data_dir, smoke=args.smoke
        )
    else:
        arrays = load_digits_arrays()
    depths = {}
    if args.smoke:  # does the script run? 128 images, 1 and 2 blocks per stage
        arrays = {
            split: tuple(a[: 128 if split == "train" else 64] for a in pair)
            for split, pair in arrays.items()
        }
        depths = {
            name: {"depths": (1, 1, 1) if "20" in name else (2, 2, 2)}
            for name in MODELS
        }
    test_data = kr.load_data(arrays, batch_size=256, augment="none").test
    train_curves, test_curves, table = {}, {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in MODELS:
            probe = epoch_test_accuracy(test_data)
            result = kr.train(
                name,
                arrays,
                os.path.join(scratch, name),
                epochs=epochs,
                recipe="he2015",
                seed=args.seed,
                recipe_overrides={"learning_rate": learning_rate},
                model_overrides=depths.get(name),
                export=False,
                verbose=0,
                callbacks=[probe],
            )
            errors = [100.0 * (1.0 - row["accuracy"]) for row in result.history]
            test_errors = [100.0 * (1.0 - accuracy) for _, _, accuracy in probe.curve]
            xs = list(range(1, epochs + 1))
            train_curves[name] = (xs, errors)
            test_curves[name] = (xs, test_errors)
            table[name] = {
                "params": result.metrics["params"],
                "final_train_error": errors[-1],
                "best_train_error": min(errors),
                "mean_train_error_last_5": sum(errors[-5:]) / len(errors[-5:]),
                "test_error": 100.0 * (1.0 - result.metrics["test_accuracy"]),
                "best_test_error": min(test_errors),
                "train_seconds": result.metrics["train_seconds"],
                "precision": result.metrics["precision"],
            }
            print(
                f"{name:<11} train error {errors[-1]:6.2f}%  test error "
                f"{table[name]['test_error']:6.2f}%",
                flush=True,
            )
    stem = "degradation" + ("" if args.dataset == "digits" else f"_{args.dataset}")
    label = "Digits" if args.dataset == "digits" else "Fashion-MNIST"
    plot = plot_panels(
        {"training error (%)": train_curves, "test error (%)": test_curves},
        os.path.join(results_folder(args.smoke), f"{stem}.png"),
        xlabel="epoch",
        title=f"{label}: plain vs residual (He et al. Fig. 6); dashed: plain",
        log_y=True,
    )
    degraded = (
        table["PlainNet56"]["mean_train_error_last_5"]
        > table["PlainNet20"]["mean_train_error_last_5"]
    )
    residual_ok = (
        table["ResNet56"]["mean_train_error_last_5"]
        <= table["ResNet20"]["mean_train_error_last_5"] + 0.5
    )
    residual_better = (
        table["ResNet56"]["mean_train_error_last_5"]
        < table["ResNet20"]["mean_train_error_last_5"]
    )
    print(
        f"plain-56 trains worse than plain-20 (mean of last 5 epochs): "
        f"{degraded}; ResNet56 at least as good as ResNet20: {residual_ok}; "
        f"ResNet56 lower than ResNet20: {residual_better}"
    )
    payload = {
        "dataset": args.dataset,
        "train_images": len(arrays["train"][1]),
        "test_images": len(arrays["test"][1]),
        "epochs": epochs,
        "recipe": "he2015",
        "seed": args.seed,
        "learning_rate": learning_rate,
        "table": table,
        "plain56_worse_than_plain20": degraded,
        "resnet56_not_worse_than_resnet20": residual_ok,
        "resnet56_lower_than_resnet20": residual_better,
        "curves": {k: v[1] for k, v in train_curves.items()},
        "test_curves": {k: v[1] for k, v in test_curves.items()},
        "plot": os.path.relpath(plot, os.path.dirname(os.path.dirname(__file__))),
        "hardware": hardware(),
    }
    print("wrote", write_result(stem, payload, smoke=args.smoke))


def table_rows(result):
    table = result["table"]
    dataset = result.get("dataset", "digits")
    label = "digits" if dataset == "digits" else "Fashion-MNIST"
    return [
        {
            "benchmark": f"Degradation (He et al. Fig. 6), {label}",
            "measure": "training error, mean of last 5 epochs",
            "ours": f"ResNet56 {table['ResNet56']['mean_train_error_last_5']:.2f}%",
            "peer": f"PlainNet56 {table['PlainNet56']['mean_train_error_last_5']:.2f}%",
            "ratio": "—",
            "target": "plain-56 worse than plain-20: "
            f"{'yes' if result['plain56_worse_than_plain20'] else 'no'}",
        }
    ]


if __name__ == "__main__":
    main()
