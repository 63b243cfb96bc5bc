"""Gradient flow at initialisation: per-block gradient norms of a plain and
a residual net of the same depth (PlainNet56 vs ResNet56 by default), on
one batch of the embedded digits, plotted to
`benchmarks/results/gradient_flow.png`.

    python -m benchmarks.gradient_flow
    python -m benchmarks.gradient_flow --depth 20 --smoke
"""

import argparse
import os
import statistics

from benchmarks.common import hardware
from benchmarks.common import results_folder
from benchmarks.common import write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=56, choices=(20, 56))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--seeds", type=int, default=3, help="Initialisations to average over."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    seeds = 1 if args.smoke else args.seeds

    import keras

    import keras_residual as kr
    from keras_residual.analysis.diagnostics import block_gradient_norms
    from keras_residual.analysis.plots import plot_series

    data = kr.load_data("digits", batch_size=args.batch_size)
    images, labels = next(iter(data.train))
    norms = {}
    for name in (f"PlainNet{args.depth}", f"ResNet{args.depth}"):
        runs = []
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            model = kr.build(name, input_shape=data.image_shape, classes=10)
            runs.append(block_gradient_norms(model, images, labels))
        norms[name] = {
            block: statistics.median(r[block] for r in runs) for block in runs[0]
        }
    series = {
        name: (list(range(len(values))), list(values.values()))
        for name, values in norms.items()
    }
    plot_series(
        series,
        os.path.join(results_folder(args.smoke), "gradient_flow.png"),
        xlabel="block (0 = stem, last = head)",
        ylabel="||dL/dW|| at initialisation",
        title=f"Gradient norm per block, depth {args.depth}",
        log_y=True,
    )
    summary = {}
    for name, values in norms.items():
        blocks = [v for k, v in values.items() if k not in ("stem", "head")]
        summary[name] = {
            "stem": values["stem"],
            "first_block": blocks[0],
            "last_block": blocks[-1],
            "head": values["head"],
            "first_over_last_block": blocks[0] / blocks[-1],
        }
        print(
            f"{name:<11} stem {values['stem']:.3g}  first block "
            f"{blocks[0]:.3g}  last block {blocks[-1]:.3g}  first/last "
            f"{blocks[0] / blocks[-1]:.3g}"
        )
    print(
        "wrote",
        write_result(
            "gradient_flow",
            {
                "depth": args.depth,
                "seeds": seeds,
                "batch_size": args.batch_size,
                "summary": summary,
                "norms": norms,
                "plot": "benchmarks/results/gradient_flow.png",
                "hardware": hardware(),
            },
            smoke=args.smoke,
        ),
    )


def table_rows(result):
    depth, summary = result["depth"], result["summary"]
    residual, plain = summary[f"ResNet{depth}"], summary[f"PlainNet{depth}"]
    return [
        {
            "benchmark": f"Gradient flow at initialisation, depth {depth}",
            "measure": "first / last block gradient norm",
            "ours": f"ResNet {residual['first_over_last_block']:.1f}×",
            "peer": f"plain {plain['first_over_last_block']:.0f}×",
            "ratio": "—",
            "target": "residual stays flat",
        }
    ]


if __name__ == "__main__":
    main()
