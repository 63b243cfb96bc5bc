"""Is the default fine-tuning the method a user can run without looking?
A matrix of small tasks built from real data (Fashion-MNIST, offline, and
the embedded digits), each method run with several seeds, reporting the
median and the worst seed of every cell.

Sources (ResNet20, trained once per run, or reused from --source-dir):

- strong: Fashion-MNIST classes 0-4, --source-images images, --source-epochs;
- weak: the same classes, 3,000 images, 4 epochs.

Targets, 5 classes each, k labelled images per class for training and k more
for validation, tested on --test-per-class images per class:

- in_domain: Fashion-MNIST classes 5-9 as they are;
- shifted: the same objects scaled to 40-60% and moved off-centre;
- inverted: the same with contrast inverted (255 - x);
- rgb: the same as colour images (each tinted by a random colour; the grey
  source's first convolution adapts to three channels);
- cross: the embedded digits 0-4 (another domain; 32 px, resized to the
  weights' 28 px).

Cells: the strong source on every target at k = 5, 10, 30; the weak source
on in_domain and shifted at k = 10. Methods, with the same images, epochs
and (default) batch size: scratch (the `fast` recipe), probe (the fitted
linear probe, then head epochs), lp_ft (head epochs, then everything at one
rate), one_rate (the `fast` recipe from the weights) and default
(`train(weights=...)`). The bar: in every cell the default's median >=
max(scratch, probe, one_rate) - 1 point, and its worst seed >= the probe's
worst seed - 2 points.

    apt-get install dataset-fashion-mnist
    python -m benchmarks transfer_robustness            # 5 seeds, ~1 hour
    python -m benchmarks transfer_robustness --quick    # k = 10, 1 seed
    python -m benchmarks.transfer_robustness --smoke    # committed slice
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks.common import fashion_mnist_splits
from benchmarks.common import hardware
from benchmarks.common import write_result
from benchmarks.transfer import class_range
from benchmarks.transfer import few_shot
from benchmarks.transfer import group_runs
from benchmarks.transfer import method_options

METHODS = ("scratch", "probe", "lp_ft", "one_rate", "default")
# Our names for the transfer benchmark's methods.
TRANSFER_NAMES = {"probe": "linear_probe", "one_rate": "full_ft"}
TARGETS = ("in_domain", "shifted", "inverted", "rgb", "cross")
BAR_MEDIAN, BAR_WORST = 0.01, 0.02


def shifted(images, rng):
    """Each image's object scaled to 40-60% and placed at a random spot."""
    from PIL import Image

    out = np.zeros_like(images)
    size = images.shape[1]
    for i, image in enumerate(images):
        side = int(round(size * rng.uniform(0.4, 0.6)))
        small = Image.fromarray(image[..., 0]).resize((side, side), Image.BILINEAR)
        top, left = rng.integers(0, size - side + 1, 2)
        out[i, top : top + side, left : left + side, 0] = np.asarray(small)
    return out


def tinted(images, rng):
    """Grey images as RGB, each multiplied by a random colour."""
    colours = rng.uniform(0.35, 1.0, (len(images), 1, 1, 3))
    return (images.astype("float32") * colours).round().astype("uint8")


def make_target(name, fashion, digits):
    """The target's `{"train", "test"}` arrays (labels 0-4)."""
    if name == "cross":
        return class_range(digits, 0, 5)
    base = class_range(fashion, 5, 10)
    change = {
        "in_domain": lambda images, rng: images,
        "shifted": shifted,
        "inverted": lambda images, rng: 255 - images,
        "rgb": tinted,
    }[name]
    rng = np.random.default_rng(1234)  # one fixed transformed copy
    return {split: (change(x, rng), y) for split, (x, y) in base.items()}


def test_subset(arrays, per_class, seed=0):
    """`per_class` test images per class (all when fewer)."""
    images, labels = arrays["test"]
    rng = np.random.default_rng(seed)
    picked = np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == c))[:per_class]
            for c in np.unique(labels)
        ]
    )
    return {**arrays, "test": (images[picked], labels[picked])}


def train_source(kr, fashion, name, images, epochs, folder, precision):
    """ResNet20 on Fashion-MNIST classes 0-4; reused when already there."""
    source = class_range(fashion, 0, 5)
    x, y = source["train"]
    chosen = np.random.default_rng(0).permutation(len(y))[:images]
    run_dir = os.path.join(folder, f"source-{name}")
    result = kr.train(
        "ResNet20",
        {"train": (x[chosen], y[chosen]), "test": source["test"]},
        run_dir,
        epochs=epochs,
        batch_size=128,
        seed=0,
        precision=precision,
        export=False,
        resume=os.path.isfile(os.path.join(run_dir, "run.json")),
        verbose=0,
    )
    accuracy = result.metrics["test_accuracy"]
    print(f"source {name}: {accuracy:.4f} on classes 0-4", flush=True)
    return run_dir, accuracy


def cells(args):
    """`(source, target, k)` of every cell."""
    chosen = []
    for target in args.targets:
        chosen += [("strong", target, k) for k in args.shots]
    for target in args.weak_targets:
        chosen += [("weak", target, k) for k in args.weak_shots]
    return chosen


def run_cell(kr, cell, target, weights, args, scratch_dir, done=()):
    """Trains every method with every seed in one cell, yielding each
    seed's row (seeds already in `done`, rows of an earlier interrupted
    run, are skipped)."""
    source, name, k = cell
    for seed in range(args.seeds):
        if any((r["source"], r["target"], r["k"], r["seed"]) == (*cell, seed)
               for r in done):  # fmt: skip
            continue
        data = few_shot(target, k, seed)
        row = {"source": source, "target": name, "k": k, "seed": seed}
        for method in args.methods:
            options = method_options(
                TRANSFER_NAMES.get(method, method), weights, args.epochs
            )
            if method == "default" and args.default_overrides:
                options["recipe_overrides"] = args.default_overrides
            started = time.perf_counter()
            result = kr.train(
                "ResNet20",
                data,
                os.path.join(scratch_dir, f"{source}-{name}-{k}-{seed}-{method}"),
                epochs=args.epochs,
                seed=seed,
                augment="crop" if name == "cross" else "auto",
                precision=args.precision,
                deterministic=args.deterministic,
                export=False,
                verbose=0,
                **options,
            )
            row[method] = result.metrics["test_accuracy"]
            row[f"{method}_seconds"] = time.perf_counter() - started
        print(
            f"{source} {name} k={k} seed {seed}: "
            + ", ".join(f"{m} {row[m]:.4f}" for m in args.methods),
            flush=True,
        )
        yield row


def summarize(rows, methods):
    """Per cell and method: median, worst seed, seeds; and the bar."""
    grouped = group_runs(
        rows, lambda row: f"{row['source']} {row['target']} k={row['k']}", methods
    )
    summary = {}
    for key, figures in grouped.items():
        cell = {
            method: {
                "median": statistics.median(values),
                "worst": min(values),
                "seeds": len(values),
            }
            for method, values in figures.items()
        }
        summary[key] = {"methods": cell, "bar": meets_bar(cell)}
    return summary


def meets_bar(cell):
    """The issue's bar for one cell, or None when a method is missing."""
    needed = ("default", "scratch", "probe", "one_rate")
    if any(method not in cell for method in needed):
        return None
    best = max(cell[m]["median"] for m in ("scratch", "probe", "one_rate"))
    median_ok = cell["default"]["median"] >= best - BAR_MEDIAN - 1e-9
    worst_ok = cell["default"]["worst"] >= cell["probe"]["worst"] - BAR_WORST - 1e-9
    return {
        "median_ok": bool(median_ok),
        "worst_ok": bool(worst_ok),
        "median_gap": cell["default"]["median"] - best,
        "worst_gap": cell["default"]["worst"] - cell["probe"]["worst"],
    }


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shots", default="5,10,30")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--weak-targets", default="in_domain,shifted")
    parser.add_argument("--weak-shots", default="10")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--source-images", type=int, default=12000)
    parser.add_argument("--source-epochs", type=int, default=10)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--data-dir", help="TFDS data directory.")
    parser.add_argument(
        "--source-dir",
        help="Keep the source runs and the finished rows (rows.json) here; "
        "a rerun reuses both, so an interrupted run goes on (default: "
        "a temporary folder).",
    )
    parser.add_argument(
        "--default-overrides",
        help="JSON recipe fields for the default method (to try a change).",
    )
    parser.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train(deterministic=True): a rerun gives the same table, and "
        "two settings of the default compare seed by seed.",
    )
    parser.add_argument("--quick", action="store_true", help="k = 10, 1 seed.")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    args.shots = [int(s) for s in args.shots.split(",")]
    args.weak_shots = [int(s) for s in args.weak_shots.split(",") if s]
    args.targets = [t for t in args.targets.split(",") if t]
    args.weak_targets = [t for t in args.weak_targets.split(",") if t]
    args.methods = args.methods.split(",")
    if args.default_overrides:
        import json

        args.default_overrides = json.loads(args.default_overrides)
    if args.quick:
        args.shots, args.weak_shots, args.seeds = [10], [10], 1
    if args.smoke:  # the committed slice: a few images per class
        args.shots, args.seeds, args.epochs = [3], 1, 2
        args.targets, args.weak_targets = ["shifted"], []
        args.methods = ["scratch", "probe", "one_rate", "default"]
        args.source_images, args.source_epochs, args.test_per_class = 200, 1, 10
    return args


def main(argv=None):
    args = parse(argv)
    import keras_residual as kr
    from keras_residual.data import load_digits_arrays
    from keras_residual.utils.atomic import write_json

    started = time.perf_counter()
    fashion = fashion_mnist_splits(None, 0, args.data_dir, smoke=args.smoke)
    digits = load_digits_arrays()
    digits = {"train": digits["train"], "test": digits["test"]}
    rows, sources = [], {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        source_dir = args.source_dir or scratch_dir
        os.makedirs(source_dir, exist_ok=True)
        plan = cells(args)
        for name, images, epochs in (
            ("strong", args.source_images, args.source_epochs),
            ("weak", min(3000, args.source_images), 4),
        ):
            if any(cell[0] == name for cell in plan):
                sources[name] = train_source(
                    kr, fashion, name, images, epochs, source_dir, args.precision
                )
        partial = os.path.join(source_dir, "rows.json")
        if args.source_dir and os.path.isfile(partial):  # an interrupted run
            rows = json.load(open(partial))
            print(f"continuing after {len(rows)} finished rows", flush=True)
        for cell in plan:
            target = test_subset(
                make_target(cell[1], fashion, digits), args.test_per_class
            )
            for row in run_cell(
                kr, cell, target, sources[cell[0]][0], args, scratch_dir, rows
            ):
                rows.append(row)
                write_json(partial, rows)
    summary = summarize(rows, args.methods)
    for key, cell in summary.items():
        figures = ", ".join(
            f"{m} {f['median']:.4f} (worst {f['worst']:.4f})"
            for m, f in cell["methods"].items()
        )
        print(f"{key}: {figures}; bar {cell['bar']}")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    payload = {
        "epochs": args.epochs,
        "seeds": args.seeds,
        "test_per_class": args.test_per_class,
        "source_accuracy": {n: s[1] for n, s in sources.items()},
        "source_images": args.source_images,
        "source_epochs": args.source_epochs,
        "default_overrides": args.default_overrides,
        "deterministic": args.deterministic,
        "methods": args.methods,
        "summary": summary,
        "runs": rows,
        "wall_seconds": time.perf_counter() - started,
        "hardware": hardware(),
    }
    print(markdown_table(payload))
    print("wrote", write_result("transfer_robustness", payload, smoke=args.smoke))


def markdown_table(result):
    """The docs' table: one row per cell, median (worst seed) per method,
    in percent, and whether the default meets the bar."""
    methods = result["methods"]
    lines = [
        "| cell | " + " | ".join(methods) + " | bar |",
        "|---" * (len(methods) + 2) + "|",
    ]
    for key, cell in result["summary"].items():
        figures = [
            f"{100 * cell['methods'][m]['median']:.1f} "
            f"({100 * cell['methods'][m]['worst']:.1f})"
            for m in methods
        ]
        bar = cell["bar"]
        verdict = (
            "—"
            if bar is None
            else ("met" if bar["median_ok"] and bar["worst_ok"] else "**missed**")
            + f" ({100 * bar['median_gap']:+.1f} / {100 * bar['worst_gap']:+.1f})"
        )
        lines.append(f"| {key} | " + " | ".join(figures) + f" | {verdict} |")
    return "\n".join(lines)


def table_rows(result):
    cells = [c for c in result["summary"].values() if c["bar"] is not None]
    if not cells:
        return []
    met = sum(c["bar"]["median_ok"] and c["bar"]["worst_ok"] for c in cells)
    worst_gap = min(c["bar"]["median_gap"] for c in cells)
    return [
        {
            "benchmark": f"Transfer robustness, ResNet20, {len(cells)} cells x "
            f"{result['seeds']} seeds (Fashion-MNIST, digits)",
            "measure": "cells where the default meets the bar",
            "ours": f"{met}/{len(cells)}",
            "peer": "best of scratch, probe, one-rate",
            "ratio": f"worst median gap {worst_gap * 100:+.1f} pt",
            "target": "every cell: median ≥ best − 1, worst ≥ probe's worst − 2",
        }
    ]


if __name__ == "__main__":
    main()
