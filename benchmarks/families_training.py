"""The #17 families against their nearest peers available offline: build
time and training images/s at 224x224.

- `ViTSmall16` against keras-hub's `ViTBackbone` in the same configuration
  (patch 16, 12 layers, 6 heads, width 384, MLP 1536, class token) with
  the same head (class token, `Dense(1000)`): 22,050,664 parameters each.
  keras-hub is not a dependency: install it in the benchmark's own
  environment (`python -m venv --system-site-packages V && V/bin/pip
  install keras-hub`, then run this with `V/bin/python`); without it the
  peer is reported as missing.
- `ResNeXt50_32x4d` against keras.applications `ResNet50`: neither
  keras.applications nor keras-hub has a ResNeXt, and ResNet-50 is the
  network it widens (same depth and stem, 4.2 vs 3.9 GMACs).
  `python -m benchmarks cpu_training --cases ResNeXt50_32x4d` races it
  against torchvision's own `resnext50_32x4d`.

One process, TensorFlow backend, synthetic data; the contenders of a model
are timed in alternating rounds (median step per round, median over
rounds), in float32 and, for ours, with `precision="auto"`.

    python -m benchmarks.families_training
    /path/to/venv/bin/python -m benchmarks families_training
    python -m benchmarks.families_training --smoke
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

PEER_NAMES = {
    "ViTSmall16": "keras-hub ViTBackbone",
    "ResNeXt50_32x4d": "keras.applications ResNet50",
}


def keras_hub_version():
    """keras-hub's version, or None where it is not installed."""
    try:
        import keras_hub
    except ImportError:
        return None
    return keras_hub.__version__


def build_peer(name, size, classes, smoke=False):
    """The peer of `name`, or None where it is not installed; one block
    per stage when `smoke`."""
    if name == "ResNeXt50_32x4d":
        return models.keras_applications(
            "ResNet50", smoke, input_shape=(size, size, 3), classes=classes
        )
    if keras_hub_version() is None:
        return None
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(
        image_shape=(size, size, 3),
        patch_size=16,
        num_layers=models.SMOKE_BLOCKS if smoke else 12,
        num_heads=6,
        hidden_dim=384,
        mlp_dim=1536,
    )
    # Its classifier pools the class token into one Dense, as ours.
    return keras_hub.models.ViTImageClassifier(
        backbone=backbone, num_classes=classes, preprocessor=None
    )


def build_ours(name, size, classes, smoke=False):
    return models.ours(name, smoke, input_shape=(size, size, 3), classes=classes)


def measure_build(name, size, classes, runs, smoke=False):
    import keras

    builders = {"ours": build_ours, "peer": build_peer}
    times = {label: [] for label in builders}
    for builder in builders.values():  # warm-up
        if builder(name, size, classes, smoke) is None:
            return None
    for _ in range(runs):
        for label, builder in builders.items():
            keras.backend.clear_session()
            gc.collect()
            times[label].append(timed(lambda b=builder: b(name, size, classes, smoke)))
    return {label: summarize(samples) for label, samples in times.items()}


def compiled(name, size, classes, contender, smoke=False):
    import keras

    from keras_residual.training.precision import resolve_precision

    policy = resolve_precision("auto") if contender == "ours auto" else "float32"
    keras.config.set_dtype_policy(policy)
    try:
        builder = build_peer if contender == "peer float32" else build_ours
        model = builder(name, size, classes, smoke)
    finally:
        keras.config.set_dtype_policy("float32")
    if model is None:
        return None, policy
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    return model, policy


def main(argv=None):
    # --smoke measures ViTSmall16 only: ResNeXt50_32x4d takes the same code path.
    args = peer_training_args(
        argv, __doc__.splitlines()[0], "ViTSmall16,ResNeXt50_32x4d", 8, 2, "ViTSmall16"
    )
    info = hardware()
    info["keras_hub"] = keras_hub_version()
    result = {"hardware": info, "settings": vars(args), "models": {}}
    classes = 1000
    for name in args.models.split(","):
        case = {"size": args.size, "batch": args.batch, "classes": classes}
        build = measure_build(name, args.size, classes, args.build_runs, args.smoke)
        contenders, policies = {}, {}
        for label in ("peer float32", "ours float32", "ours auto"):
            model, policy = compiled(name, args.size, classes, label, args.smoke)
            if model is not None:
                contenders[label], policies[label] = model, policy
        data = synthetic_dataset(dict(case, channels=3))
        rates = alternating_training_rates(
            contenders, data, args.batch, args.rounds, args.steps
        )
        peer = rates.get("peer float32", {}).get("median")
        figures = {
            "case": case,
            "peer": PEER_NAMES[name],
            "peer_installed": peer is not None,
            "build_seconds": build,
            "images_per_second": rates,
            "policies": policies,
            "build_ratio_ours_over_peer": build["ours"]["median"]
            / build["peer"]["median"]
            if build
            else None,
            "float32_ratio_ours_over_peer": rates["ours float32"]["median"] / peer
            if peer
            else None,
            "auto_ratio_ours_over_peer_float32": rates["ours auto"]["median"] / peer
            if peer
            else None,
        }
        result["models"][name] = figures
        for label, stats in rates.items():
            print(f"{name:<16} {label:<14} {stats['median']:7.2f} img/s", flush=True)
        print(
            f"{name:<16} vs {PEER_NAMES[name]}: float32 "
            f"{ratio(figures['float32_ratio_ours_over_peer'], 3)}, auto "
            f"{ratio(figures['auto_ratio_ours_over_peer_float32'], 3)}, build "
            f"{ratio(figures['build_ratio_ours_over_peer'], 3)}",
            flush=True,
        )
    print("wrote", write_result("families_training", result, smoke=args.smoke))
    return result


def table_rows(result):
    rows = []
    hub = result["hardware"].get("keras_hub")
    for name, figures in result["models"].items():
        case, train = figures["case"], figures["images_per_second"]
        peer_label = figures["peer"] + (
            f" {hub}" if figures["peer"].startswith("keras-hub") and hub else ""
        )
        if not figures["peer_installed"]:
            peer_label = f"{figures['peer']}: not installed in this environment"
        peer_rate = train.get("peer float32", {}).get("median")
        peer = f"{peer_label} {peer_rate:.2f} img/s" if peer_rate else peer_label
        where = f"{name} training, {case['size']}×{case['size']}, batch {case['batch']}"
        rows.append(
            {
                "benchmark": where,
                "measure": "images/s, float32",
                "ours": f"{train['ours float32']['median']:.2f} img/s",
                "peer": peer,
                "ratio": ratio(figures["float32_ratio_ours_over_peer"]),
                "target": "≥ 1.0×",
            }
        )
        rows.append(
            {
                "benchmark": where,
                "measure": f"images/s, ours precision auto "
                f"({figures['policies']['ours auto']}) vs their float32",
                "ours": f"{train['ours auto']['median']:.2f} img/s",
                "peer": peer,
                "ratio": ratio(figures["auto_ratio_ours_over_peer_float32"]),
                "target": "measured",
            }
        )
        build = figures["build_seconds"]
        rows.append(
            {
                "benchmark": f"{name} build, {case['size']}×{case['size']}",
                "measure": "build seconds",
                "ours": f"{build['ours']['median']:.2f} s" if build else "n/a",
                "peer": f"{peer_label} {build['peer']['median']:.2f} s"
                if build
                else peer_label,
                "ratio": ratio(figures["build_ratio_ours_over_peer"]),
                "target": "≤ 1.1×",
            }
        )
    return rows


if __name__ == "__main__":
    main()
