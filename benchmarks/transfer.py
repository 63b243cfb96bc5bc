"""Fine-tuning against training from scratch, on real data (Fashion-MNIST,
offline), the way a user's first attempt goes: `train(weights=...)`.

Two tasks, each from k labelled images per class (and k more per class for
validation), tested on every test image of the target classes:

- within: ResNet20 pretrained on Fashion-MNIST classes 0-4 (the 27,000
  training images of those classes, --pretrain-epochs, seed 0, once), then
  trained on classes 5-9 with k = 5, 10, 20 images per class, and with all
  27,000 of them (--all-epochs, batch --all-batch-size);
- cross: the shipped `weights="fashion_mnist"` (all ten classes) onto the
  embedded digits, k = 10 (the digits are 32 px; the fine-tuned models see
  them at the weights' 28 px, as `train()` resizes to the weights' size).

Augmentation: crops and flips for Fashion-MNIST, crops only for digits (a
flipped digit is another digit).

Methods, side by side with the same images, epochs and batch size:
`scratch` (the `fast` recipe), `linear_probe` (the new head alone: the
fitted probe, then the head's epochs), `lp_ft` (a third of the epochs for
the head with plain `fit`, then everything at one rate, BatchNorm
trained), `full_ft` (the `fast` recipe from the weights: one rate,
BatchNorm trained, no head phase), `finetune_v0` (the `finetune` preset
as it was before this benchmark: 3 head epochs, backbone at 0.1x the
head's rate, BatchNorm frozen, no warm-up) and `default` (what
`train(weights=...)` does now: the fitted linear probe, then everything,
the backbone's rate chosen from the probe's validation accuracy). Every
method runs at k = 10 (--every-method-k); scratch, full_ft and default at
every k; with all the images, scratch and default with every seed and the
others with seed 0 (--all-methods). Medians over --seeds seeds (the draw
of the k images and the initialisation).

    apt-get install dataset-fashion-mnist
    python -m benchmarks transfer                   # 3 seeds, every k
    python -m benchmarks transfer --shots 10 --seeds 1 --tasks within
    python -m benchmarks.transfer --smoke   # the committed slice; scratch, default
"""

import argparse
import os
import statistics
import tempfile

import numpy as np

from benchmarks.common import fashion_mnist_splits
from benchmarks.common import hardware
from benchmarks.common import write_result

SOURCE_CLASSES, TARGET_CLASSES = (0, 5), (5, 10)
# The `finetune` preset before it was measured here (the baseline).
FINETUNE_V0 = {
    "head_epochs": 3,
    "backbone_lr_ratio": 0.1,
    "freeze_bn": True,
    "warmup_epochs": 0.0,
    "weight_decay": 1e-4,
    "learning_rate": 0.1,
    "batch_size": 64,
    "unfreeze": "all",
    "linear_probe": False,
}
METHODS = ("scratch", "linear_probe", "lp_ft", "full_ft", "finetune_v0", "default")
# The methods run at every k; the others at --every-method-k only.
CORE = ("scratch", "full_ft", "default")


def method_options(method, weights, epochs):
    """`train()` keywords of `method` from `weights`."""
    if method == "scratch":
        return {"recipe": "fast"}
    if method == "default":
        return {"weights": weights}
    if method == "full_ft":
        return {"weights": weights, "recipe": "fast"}
    if method == "finetune_v0":  # its 3 head epochs, fewer in shorter runs
        head = min(FINETUNE_V0["head_epochs"], epochs - 1)
        return {
            "weights": weights,
            "recipe": "finetune",
            "recipe_overrides": dict(FINETUNE_V0, head_epochs=head),
        }
    head = {"linear_probe": 0, "lp_ft": max(epochs // 3, 1)}[method]
    overrides = {
        # The fitted probe, then more epochs of the head alone.
        "linear_probe": {"unfreeze": 0, "head_epochs": 0, "backbone_lr_ratio": 1.0},
        # Head epochs with plain fit, then everything at one rate.
        "lp_ft": {
            "head_epochs": head,
            "linear_probe": False,
            "backbone_lr_ratio": 1.0,
            "freeze_bn": False,
            "warmup_epochs": 1.0,
        },
    }[method]
    return {"weights": weights, "recipe": "finetune", "recipe_overrides": overrides}


def class_range(arrays, low, high):
    """The splits restricted to classes in [low, high), relabelled from 0."""
    return {
        split: (
            images[(labels >= low) & (labels < high)],
            labels[(labels >= low) & (labels < high)] - low,
        )
        for split, (images, labels) in arrays.items()
    }


def few_shot(arrays, k, seed):
    """k training and k validation images per class (disjoint, drawn with
    `seed`) from the training split, and the whole test split; all of the
    training split (10% held out for validation) when k is None."""
    if k is None:
        return {"train": arrays["train"], "test": arrays["test"]}
    images, labels = arrays["train"]
    rng = np.random.default_rng(seed)
    drawn = [
        rng.choice(np.flatnonzero(labels == c), 2 * k, replace=False)
        for c in np.unique(labels)
    ]
    train = np.concatenate([d[:k] for d in drawn])
    validation = np.concatenate([d[k:] for d in drawn])
    return {
        "train": (images[train], labels[train]),
        "validation": (images[validation], labels[validation]),
        "test": arrays["test"],
    }


def run_task(task, target, weights, shots, methods, seeds, args, scratch_dir):
    """Trains every method at every k and seed; returns the rows."""
    import keras_residual as kr

    rows = []
    for k in shots:
        for seed in range(seeds):
            data = few_shot(target, k, seed)
            epochs = args.all_epochs if k is None else args.epochs
            batch = args.all_batch_size if k is None else args.batch_size
            row = {"task": task, "k": "all" if k is None else k, "seed": seed}
            for method in methods:
                if k is None and method not in args.all_methods and seed > 0:
                    continue
                if k not in (None, args.every_method_k) and method not in CORE:
                    continue
                result = kr.train(
                    "ResNet20",
                    data,
                    os.path.join(scratch_dir, f"{task}-{k}-{seed}-{method}"),
                    epochs=epochs,
                    batch_size=batch,
                    seed=seed,
                    augment="crop" if task == "cross" else "auto",
                    precision=args.precision,
                    export=False,
                    verbose=0,
                    **method_options(method, weights, epochs),
                )
                row[method] = result.metrics["test_accuracy"]
            rows.append(row)
            print(
                f"{task} k={row['k']} seed {seed}: "
                + ", ".join(f"{m} {row[m]:.4f}" for m in methods if m in row),
                flush=True,
            )
    return rows


def group_runs(rows, cell_name, methods):
    """`{cell: {method: [test accuracy per seed]}}` of result rows, the cell
    named by `cell_name(row)`; methods a row lacks are left out."""
    grouped = {}
    for row in rows:
        for method in methods:
            if method in row:
                grouped.setdefault(cell_name(row), {}).setdefault(method, []).append(
                    row[method]
                )
    return grouped


def summarize(rows, methods):
    summary = group_runs(rows, lambda row: f"{row['task']} k={row['k']}", methods)
    return {
        key: {
            method: {"median": statistics.median(values), "seeds": len(values)}
            for method, values in figures.items()
        }
        for key, figures in summary.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shots", default="5,10,20,all")
    parser.add_argument("--tasks", default="within,cross")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--all-methods",
        default="scratch,default",
        help="Methods run with every seed when k=all (the others: seed 0).",
    )
    parser.add_argument(
        "--every-method-k",
        type=int,
        default=10,
        help="The k at which every method runs (elsewhere: scratch, full_ft "
        "and default).",
    )
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--all-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--all-batch-size", type=int, default=64)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--data-dir", help="TFDS data directory.")
    parser.add_argument(
        "--pretrain-dir",
        help="Keep the within task's pretraining run here and reuse it when "
        "it is already there (default: a temporary folder).",
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    args.all_methods = args.all_methods.split(",")
    shots = [None if s == "all" else int(s) for s in args.shots.split(",")]
    seeds = args.seeds
    if args.smoke:  # one task: "cross" runs the same code on other data
        shots, seeds, args.epochs, args.all_epochs = [5], 1, 4, 1
        methods = ["scratch", "default"]
        args.pretrain_epochs = 1
        args.tasks = ["within"]

    import keras_residual as kr
    from keras_residual.data import load_digits_arrays
    from keras_residual.weights import FASHION_MNIST_WEIGHTS

    fashion = fashion_mnist_splits(None, 0, args.data_dir, smoke=args.smoke)
    rows = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        if "within" in args.tasks:
            source = class_range(fashion, *SOURCE_CLASSES)
            pretrain_dir = args.pretrain_dir or os.path.join(scratch_dir, "pretrain")
            pretrained = kr.train(
                "ResNet20",
                source,
                pretrain_dir,
                epochs=args.pretrain_epochs,
                batch_size=128,
                seed=0,
                precision=args.precision,
                export=False,
                resume=os.path.isfile(os.path.join(pretrain_dir, "run.json")),
                verbose=0,
            )
            print(
                f"pretrained on Fashion-MNIST classes 0-4: test accuracy "
                f"{pretrained.metrics['test_accuracy']:.4f}",
                flush=True,
            )
            target = class_range(fashion, *TARGET_CLASSES)
            rows += run_task(
                "within", target, pretrained.run_dir, shots, methods, seeds, args,
                scratch_dir,
            )  # fmt: skip
        if "cross" in args.tasks:
            if "ResNet20" in FASHION_MNIST_WEIGHTS and not args.smoke:
                weights = "fashion_mnist"
            else:  # before the shipped weights exist, and in smoke runs
                weights = kr.train(
                    "ResNet20",
                    fashion,
                    os.path.join(scratch_dir, "pretrain-all"),
                    epochs=args.pretrain_epochs,
                    batch_size=128,
                    seed=0,
                    export=False,
                    verbose=0,
                ).run_dir
            digits = load_digits_arrays()
            digits = {"train": digits["train"], "test": digits["test"]}
            cross_shots = [5] if args.smoke else [10]
            rows += run_task(
                "cross", digits, weights, cross_shots, methods, seeds, args,
                scratch_dir,
            )  # fmt: skip
    summary = summarize(rows, methods)
    for key, figures in summary.items():
        print(
            f"{key}: " + ", ".join(f"{m} {f['median']:.4f}" for m, f in figures.items())
        )
    print(
        "wrote",
        write_result(
            "transfer",
            {
                "pretrain_epochs": args.pretrain_epochs,
                "epochs": args.epochs,
                "all_epochs": args.all_epochs,
                "batch_size": args.batch_size,
                "all_batch_size": args.all_batch_size,
                "precision": args.precision,
                "augment": {"within": "crop_flip", "cross": "crop"},
                "methods": methods,
                "summary": summary,
                "runs": rows,
                "hardware": hardware(),
            },
            smoke=args.smoke,
        ),
    )


def table_rows(result):
    rows = []
    for key, figures in result["summary"].items():
        if "default" not in figures or "scratch" not in figures:
            continue
        ours, peer = figures["default"]["median"], figures["scratch"]["median"]
        rows.append(
            {
                "benchmark": f"Transfer, ResNet20 {key} (Fashion-MNIST), median of "
                f"{figures['default']['seeds']} seeds",
                "measure": "test accuracy, train(weights=...) default vs scratch",
                "ours": f"{ours:.2%}",
                "peer": f"scratch {peer:.2%}",
                "ratio": f"{ours / peer:.2f}x" if peer else "—",
                "target": "≥ scratch (k=10: +4 points; cross: ≥ −1 point)",
            }
        )
    return rows


if __name__ == "__main__":
    main()
