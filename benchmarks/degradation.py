"""He et al. 2015's degradation experiment (Fig. 6), on the embedded digits.

Trains PlainNet20, PlainNet56, ResNet20 and ResNet56 with the same recipe
(`he2015`'s SGD, momentum 0.9, wd 1e-4, batch 128, step decay at 50%/75%,
shortened to --epochs) and plots their training-error curves to
`benchmarks/results/degradation.png`, with a table. The paper's claim: the
deeper plain net has *higher* training error than the shallower one, and
the residual nets don't suffer from this.

The learning rate defaults to 0.02, not the paper's 0.1: on digits (10
steps per epoch) 0.1 stalled ResNet56 at ~73% training error for all 30
epochs, and even after a 0.01 warm-up (He et al.'s ResNet-110 remedy) it
blew up on returning to 0.1. Pass --learning-rate 0.1 to see it.

    python -m benchmarks.degradation            # 30 epochs each
    python -m benchmarks.degradation --smoke    # 1 epoch, 128 images, 1-2 blocks/stage
"""

import argparse
import os
import tempfile

from benchmarks.common import hardware
from benchmarks.common import results_folder
from benchmarks.common import write_result

MODELS = ("PlainNet20", "PlainNet56", "ResNet20", "ResNet56")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs

    import keras_residual as kr
    from keras_residual.analysis.plots import plot_series
    from keras_residual.data import load_digits_arrays

    dataset, depths = "digits", {}
    if args.smoke:  # does the script run? 128 images, 1 and 2 blocks per stage
        images, labels = load_digits_arrays()["train"]
        dataset = {
            "train": (images[:128], labels[:128]),
            "test": (images[:64], labels[:64]),
        }
        depths = {
            name: {"depths": (1, 1, 1) if "20" in name else (2, 2, 2)}
            for name in MODELS
        }
    curves, table = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in MODELS:
            result = kr.train(
                name,
                dataset,
                os.path.join(scratch, name),
                epochs=epochs,
                recipe="he2015",
                seed=args.seed,
                recipe_overrides={"learning_rate": args.learning_rate},
                model_overrides=depths.get(name),
                export=False,
                verbose=0,
            )
            errors = [100.0 * (1.0 - row["accuracy"]) for row in result.history]
            curves[name] = (list(range(1, epochs + 1)), errors)
            table[name] = {
                "params": result.metrics["params"],
                "final_train_error": errors[-1],
                "best_train_error": min(errors),
                "mean_train_error_last_5": sum(errors[-5:]) / len(errors[-5:]),
                "test_error": 100.0 * (1.0 - result.metrics["test_accuracy"]),
            }
            print(
                f"{name:<11} train error {errors[-1]:6.2f}%  test error "
                f"{table[name]['test_error']:6.2f}%",
                flush=True,
            )
    plot_series(
        curves,
        os.path.join(results_folder(args.smoke), "degradation.png"),
        xlabel="epoch",
        ylabel="training error (%)",
        title="Digits: plain vs residual (He et al. Fig. 6)",
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
    print(
        f"plain-56 trains worse than plain-20 (mean of last 5 epochs): "
        f"{degraded}; ResNet56 at least as good as ResNet20: {residual_ok}"
    )
    payload = {
        "epochs": epochs,
        "recipe": "he2015",
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "table": table,
        "plain56_worse_than_plain20": degraded,
        "resnet56_not_worse_than_resnet20": residual_ok,
        "curves": {k: v[1] for k, v in curves.items()},
        "plot": "benchmarks/results/degradation.png",
        "hardware": hardware(),
    }
    print("wrote", write_result("degradation", payload, smoke=args.smoke))


def table_rows(result):
    table = result["table"]
    return [
        {
            "benchmark": "Degradation (He et al. Fig. 6), digits",
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
