"""ResNet50 and DenseNet121 against keras.applications at 224x224: build
time, training images/s in float32 (same graph, target ratio >= 1.0), and
training images/s of ours with the recipe's automatic precision against
keras.applications in float32 (target >= 1.6x on an AVX512_BF16 CPU).

One process; the contenders of a model are timed in alternating rounds.
Each round times every training step with a callback and keeps the median
step; the figure is the median over rounds. keras.applications and our
float32 twin are compiled alike (SGD with momentum, sparse cross-entropy);
the "auto" contender is compiled with the `he2015` recipe's
`compile_kwargs` under `precision="auto"`. Synthetic inputs.

    python -m benchmarks.applications_training
    python -m benchmarks.applications_training --models ResNet50 --rounds 5
    python -m benchmarks.applications_training --smoke
"""

import gc

from benchmarks import models
from benchmarks.common import alternating_training_rates
from benchmarks.common import hardware
from benchmarks.common import peer_training_args
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import synthetic_dataset
from benchmarks.common import timed
from benchmarks.common import write_result

PEERS = {"ResNet50": "ResNet50", "DenseNet121": "DenseNet121"}


def _build(name, shape, classes, peer, smoke=False):
    builder = models.keras_applications if peer else models.ours
    return builder(
        PEERS[name] if peer else name, smoke, input_shape=shape, classes=classes
    )


def _compiled(name, case, contender, smoke=False):
    import keras

    import keras_residual as kr
    from keras_residual.training.precision import resolve_precision

    shape = (case["size"], case["size"], 3)
    policy = resolve_precision("auto") if contender == "ours auto" else "float32"
    keras.config.set_dtype_policy(policy)
    try:
        model = _build(
            name,
            shape,
            case["classes"],
            peer=contender == "keras.applications float32",
            smoke=smoke,
        )
    finally:
        keras.config.set_dtype_policy("float32")
    if contender == "ours auto":
        recipe = kr.get_recipe("he2015", batch_size=case["batch"])
        model.compile(**recipe.compile_kwargs(model, steps_per_epoch=100))
    else:
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss="sparse_categorical_crossentropy",
        )
    return model, policy


def measure_build(name, case, runs, smoke=False):
    import keras

    shape = (case["size"], case["size"], 3)
    times = {"keras.applications": [], "ours": []}
    for label in times:  # warm-up
        _build(name, shape, case["classes"], label == "keras.applications", smoke)
    for _ in range(runs):
        for label in times:
            keras.backend.clear_session()
            gc.collect()
            times[label].append(
                timed(
                    lambda label=label: _build(
                        name,
                        shape,
                        case["classes"],
                        label == "keras.applications",
                        smoke,
                    )
                )
            )
    return {label: summarize(samples) for label, samples in times.items()}


def measure_training(name, case, rounds, steps, smoke=False):
    data = synthetic_dataset(dict(case, channels=3))
    contenders, policies = {}, {}
    for label in ("keras.applications float32", "ours float32", "ours auto"):
        contenders[label], policies[label] = _compiled(name, case, label, smoke)
    rates = alternating_training_rates(contenders, data, case["batch"], rounds, steps)
    return rates, policies


def main(argv=None):
    # --smoke measures ResNet50 only: DenseNet121 takes the same path at 3x the cost.
    args = peer_training_args(
        argv, __doc__.splitlines()[0], "ResNet50,DenseNet121", 32, 3, "ResNet50"
    )
    result = {"hardware": hardware(), "settings": vars(args), "models": {}}
    for name in args.models.split(","):
        case = {"size": args.size, "batch": args.batch, "classes": 1000}
        build = measure_build(name, case, args.build_runs, args.smoke)
        train, policies = measure_training(
            name, case, args.rounds, args.steps, args.smoke
        )
        peer = train["keras.applications float32"]["median"]
        figures = {
            "case": case,
            "build_seconds": build,
            "images_per_second": train,
            "policies": policies,
            "build_ratio_ours_over_peer": build["ours"]["median"]
            / build["keras.applications"]["median"],
            "float32_ratio_ours_over_peer": train["ours float32"]["median"] / peer,
            "auto_ratio_ours_over_peer_float32": train["ours auto"]["median"] / peer,
        }
        result["models"][name] = figures
        for label, stats in train.items():
            print(
                f"{name:<12} {label:<28} {stats['median']:7.2f} img/s "
                f"({policies[label]})",
                flush=True,
            )
        print(
            f"{name:<12} float32 ours/keras.applications "
            f"{figures['float32_ratio_ours_over_peer']:.3f}; auto ours/"
            f"keras.applications float32 "
            f"{figures['auto_ratio_ours_over_peer_float32']:.3f}; build "
            f"time ours/keras.applications "
            f"{figures['build_ratio_ours_over_peer']:.3f}",
            flush=True,
        )
    print("wrote", write_result("applications_training", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    for name, figures in result["models"].items():
        train, case = figures["images_per_second"], figures["case"]
        where = f"{name} training, {case['size']}×{case['size']}, batch {case['batch']}"
        peer_rate = train["keras.applications float32"]["median"]
        peer = f"keras.applications {peer_rate:.2f} img/s"
        rows.append(
            {
                "benchmark": where,
                "measure": "images/s, float32",
                "ours": f"{train['ours float32']['median']:.2f} img/s",
                "peer": peer,
                "ratio": ratio(figures["float32_ratio_ours_over_peer"]),
                "target": "≥ 1.0× (same graph)",
            }
        )
        rows.append(
            {
                "benchmark": where,
                "measure": f"images/s, ours recipe + precision auto "
                f"({figures['policies']['ours auto']}) vs "
                "their float32",
                "ours": f"{train['ours auto']['median']:.2f} img/s",
                "peer": peer,
                "ratio": ratio(figures["auto_ratio_ours_over_peer_float32"]),
                "target": "≥ 1.6× (AVX512_BF16)",
            }
        )
        rows.append(
            {
                "benchmark": f"{name} build, {case['size']}×{case['size']}",
                "measure": "build seconds",
                "ours": f"{figures['build_seconds']['ours']['median']:.2f} s",
                "peer": f"keras.applications "
                f"{figures['build_seconds']['keras.applications']['median']:.2f} s",
                "ratio": ratio(figures["build_ratio_ours_over_peer"]),
                "target": "≤ 1.1×",
            }
        )
    return rows


if __name__ == "__main__":
    main()
