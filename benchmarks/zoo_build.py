"""Build time and memory of the zoo's largest models, against
keras.applications where it has the same model.

Each measurement is a fresh process that imports Keras, builds one model
and reports the build's wall time and the growth of its resident memory;
ours and the peer alternate, --runs times, and the figures are medians.

    python -m benchmarks.zoo_build
    python -m benchmarks.zoo_build --models ResNet152,DenseNet201 --runs 5
    python -m benchmarks.zoo_build --smoke
"""

import argparse
import json

from benchmarks.common import child_json
from benchmarks.common import current_rss_mb
from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import write_result

# Our name -> keras.applications name (None: no peer).
LARGEST = {
    "ResNet152": "ResNet152",
    "ResNet152V2": "ResNet152V2",
    "DenseNet201": "DenseNet201",
    "DenseNetBC250": None,
    "PreActResNet164": None,
    "HighwayNet110": None,
}


def child(name, peer):
    """Builds one model in this process and prints its figures as JSON."""
    import time

    import keras

    import keras_residual as kr

    before = current_rss_mb()
    start = time.perf_counter()
    if peer:
        model = getattr(keras.applications, name)(weights=None)
    else:
        model = kr.build(name)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_mb": current_rss_mb() - before,
                "params": model.count_params(),
                "layers": len(model.layers),
            }
        )
    )


def measure(name, peer):
    return child_json(
        "benchmarks.zoo_build", "--child", name, *(["--peer"] if peer else [])
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(LARGEST))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.peer)
        return None
    names = args.models.split(",")
    if args.smoke:  # one model with a keras.applications peer: both paths
        LARGEST.setdefault("ResNet50", "ResNet50")
        names = ["ResNet50"]
    runs = 1 if args.smoke else args.runs
    result = {"hardware": hardware(), "runs": runs, "models": {}}
    for name in names:
        peer = LARGEST.get(name)
        samples = (
            {"ours": []} if peer is None else {"ours": [], "keras.applications": []}
        )
        for _ in range(runs):
            for label in samples:
                samples[label].append(
                    measure(
                        peer if label == "keras.applications" else name,
                        label == "keras.applications",
                    )
                )
        figures = {
            label: {
                "seconds": summarize([s["seconds"] for s in values]),
                "rss_mb": summarize([s["rss_mb"] for s in values]),
                "params": values[0]["params"],
                "layers": values[0]["layers"],
            }
            for label, values in samples.items()
        }
        if peer:
            figures["build_ratio_ours_over_peer"] = (
                figures["ours"]["seconds"]["median"]
                / figures["keras.applications"]["seconds"]["median"]
            )
            figures["memory_ratio_ours_over_peer"] = (
                figures["ours"]["rss_mb"]["median"]
                / figures["keras.applications"]["rss_mb"]["median"]
            )
        result["models"][name] = figures
        ours = figures["ours"]
        print(
            f"{name:<16} {ours['params']:>11,} params  build "
            f"{ours['seconds']['median']:6.2f} s  +{ours['rss_mb']['median']:6.0f} MB"
            + (
                f"  vs keras.applications x{figures['build_ratio_ours_over_peer']:.2f}"
                f" time, x{figures['memory_ratio_ours_over_peer']:.2f} memory"
                if peer
                else ""
            ),
            flush=True,
        )
    print("wrote", write_result("zoo_build", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    for name, figures in result["models"].items():
        ours, peer = figures["ours"], figures.get("keras.applications")
        rows.append(
            {
                "benchmark": f"{name} build ({ours['params'] / 1e6:.1f}M params)",
                "measure": "build seconds; memory growth",
                "ours": f"{ours['seconds']['median']:.2f} s; "
                f"{ours['rss_mb']['median']:.0f} MB",
                "peer": "—"
                if peer is None
                else (
                    f"keras.applications {peer['seconds']['median']:.2f} s; "
                    f"{peer['rss_mb']['median']:.0f} MB"
                ),
                "ratio": "—"
                if peer is None
                else (
                    f"{ratio(figures['build_ratio_ours_over_peer'])} time, "
                    f"{ratio(figures['memory_ratio_ours_over_peer'])} memory"
                ),
                "target": "≤ 1.1× time" if peer else "—",
            }
        )
    return rows


if __name__ == "__main__":
    main()
