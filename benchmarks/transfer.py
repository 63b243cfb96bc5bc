"""Transfer on the embedded digits: pretrain ResNet20 on digits 0-4, then
fine-tune on digits 5-9 from k labelled images per class (k = 5, 10, 20)
with `train(weights=...)` and the `finetune` recipe, against training from
scratch with the same images, epochs and batch size (`fast` recipe). Test
accuracy on the 5-9 digits of the test split, median of several seeds.

    python -m benchmarks transfer          # 3 seeds
    python -m benchmarks.transfer --smoke  # 1 seed, k=5, 4 epochs (3 head)
"""

import argparse
import os
import statistics
import tempfile

import numpy as np

from benchmarks.common import hardware
from benchmarks.common import write_result

SOURCE, TARGET = (0, 5), (5, 10)


def digit_range(arrays, low, high):
    """The splits restricted to digits in [low, high), relabelled from 0."""
    return {
        split: (
            images[(labels >= low) & (labels < high)],
            labels[(labels >= low) & (labels < high)] - low,
        )
        for split, (images, labels) in arrays.items()
    }


def few_shot(arrays, k, seed):
    """k training images per class (drawn with `seed`), with the full
    validation and test splits."""
    images, labels = arrays["train"]
    rng = np.random.default_rng(seed)
    picked = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), k, replace=False)
            for c in np.unique(labels)
        ]
    )
    return dict(arrays, train=(images[picked], labels[picked]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    shots = (5,) if args.smoke else (5, 10, 20)
    seeds = 1 if args.smoke else args.seeds
    pretrain_epochs, epochs = (
        (1, 4) if args.smoke else (args.pretrain_epochs, args.epochs)
    )

    import keras_residual as kr
    from keras_residual.data import load_digits_arrays

    digits = load_digits_arrays()
    source = digit_range(digits, *SOURCE)
    target = digit_range(digits, *TARGET)
    # Crops only: a flipped digit is another digit (augment="auto" flips
    # array sources).
    common = dict(precision=args.precision, export=False, verbose=0, augment="crop")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(seeds):
            pretrained = kr.train(
                "ResNet20",
                source,
                os.path.join(scratch, f"pretrain-{seed}"),
                epochs=pretrain_epochs,
                seed=seed,
                **common,
            )
            print(
                f"seed {seed}: pretrained on digits 0-4, test accuracy "
                f"{pretrained.metrics['test_accuracy']:.4f}",
                flush=True,
            )
            for k in shots:
                data = few_shot(target, k, seed)
                row = {
                    "seed": seed,
                    "k": k,
                    "source_test_accuracy": pretrained.metrics["test_accuracy"],
                }
                for label, options in (
                    ("finetuned", dict(weights=pretrained.run_dir, recipe="finetune")),
                    ("scratch", dict(recipe="fast")),
                ):
                    result = kr.train(
                        "ResNet20",
                        data,
                        os.path.join(scratch, f"{label}-{seed}-{k}"),
                        epochs=epochs,
                        batch_size=args.batch_size,
                        seed=seed,
                        **options,
                        **common,
                    )
                    row[label] = result.metrics["test_accuracy"]
                runs.append(row)
                print(
                    f"seed {seed}, k={k}: fine-tuned {row['finetuned']:.4f}, "
                    f"scratch {row['scratch']:.4f}",
                    flush=True,
                )
    summary = {}
    for k in shots:
        rows = [r for r in runs if r["k"] == k]
        summary[str(k)] = {
            "finetuned_median": statistics.median(r["finetuned"] for r in rows),
            "scratch_median": statistics.median(r["scratch"] for r in rows),
            "seeds": len(rows),
        }
        print(
            f"k={k}: median test accuracy fine-tuned "
            f"{summary[str(k)]['finetuned_median']:.4f} vs scratch "
            f"{summary[str(k)]['scratch_median']:.4f}"
        )
    print(
        "wrote",
        write_result(
            "transfer",
            {
                "pretrain_epochs": pretrain_epochs,
                "epochs": epochs,
                "batch_size": args.batch_size,
                "precision": args.precision,
                "summary": summary,
                "runs": runs,
                "hardware": hardware(),
            },
            smoke=args.smoke,
        ),
    )


def table_rows(result):
    rows = []
    for k, figures in sorted(result["summary"].items(), key=lambda item: int(item[0])):
        ours, peer = figures["finetuned_median"], figures["scratch_median"]
        rows.append(
            {
                "benchmark": f"Transfer: ResNet20 digits 0-4 -> 5-9, {k} images per "
                f"class, {result['epochs']} epochs, median of {figures['seeds']} seeds",
                "measure": "test accuracy, fine-tuned vs from scratch",
                "ours": f"{ours:.2%}",
                "peer": f"scratch {peer:.2%}",
                "ratio": f"{ours / peer:.2f}x" if peer else "—",
                "target": "fine-tuned > scratch",
            }
        )
    return rows


if __name__ == "__main__":
    main()
