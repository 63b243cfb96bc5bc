"""A 10-trial architecture search on the embedded digits: wall time (goal
<= 10 minutes on 2 CPU cores), the best model's test accuracy (goal >=
98.5%) and per-trial overhead (build, compile, checkpointing and teardown
as a share of trial time; goal <= 10%).

    python -m benchmarks.search_digits                  # random, 10 trials, 5 epochs
    python -m benchmarks.search_digits --tuner hyperband --epochs 9
    python -m benchmarks.search_digits --smoke
"""

import argparse
import statistics
import tempfile

from benchmarks.common import hardware
from benchmarks.common import write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuner", default="random")
    parser.add_argument("--max-trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    trials, epochs = (2, 1) if args.smoke else (args.max_trials, args.epochs)
    space = {"depth": [1], "base_width": [16]} if args.smoke else None

    from keras_residual.search import search

    with tempfile.TemporaryDirectory() as scratch:
        summary = search(
            "digits",
            scratch,
            tuner=args.tuner,
            max_trials=trials,
            epochs=epochs,
            seed=args.seed,
            space=space,
            verbose=0,
            export=False,
        )
    overheads = [
        (t["trial_seconds"] - t.get("fit_seconds", 0.0)) / t["trial_seconds"]
        for t in summary["timings"].values()
    ]
    result = {
        "tuner": args.tuner,
        "max_trials": trials,
        "epochs_per_trial": epochs,
        "wall_seconds": summary["wall_seconds"],
        "best_test_accuracy": summary.get("best", {}).get("test_accuracy"),
        "best": summary.get("best"),
        "overhead_share_median": statistics.median(overheads),
        "overhead_share_max": max(overheads),
        "completed": summary["completed"],
        "rejected": summary["rejected"],
        "rows": summary["rows"],
        "hardware": hardware(),
    }
    print(
        f"{args.tuner}: {trials} trials in {result['wall_seconds']:.0f} s; best "
        f"test accuracy {result['best_test_accuracy']}; overhead per trial "
        f"median {result['overhead_share_median']:.1%}, max "
        f"{result['overhead_share_max']:.1%}"
    )
    print(
        "wrote", write_result(f"search_digits_{args.tuner}", result, smoke=args.smoke)
    )


def table_rows(result):
    accuracy = result["best_test_accuracy"]
    return [
        {
            "benchmark": f"Search, {result['tuner']}, {result['max_trials']} "
            f"trials × {result['epochs_per_trial']} epochs, digits",
            "measure": "wall time; best test accuracy; overhead per trial",
            "ours": f"{result['wall_seconds']:.0f} s; "
            + ("n/a" if accuracy is None else f"{accuracy:.2%}")
            + f"; {result['overhead_share_median']:.1%}",
            "peer": "—",
            "ratio": "—",
            "target": "≤ 600 s; ≥ 98.5%; ≤ 10%",
        }
    ]


if __name__ == "__main__":
    main()
