"""Training throughput: float32 against mixed_bfloat16 (and, with --xla,
XLA off against on) for ResNet20 and ResNet56 at 32x32, batch 128.

Side by side in one process, in alternating rounds. Each round times every
training step with a callback and keeps the median step (so `fit`'s start-up
is not counted); the figure is the median over --rounds. Models are compiled
with the `he2015` recipe's `compile_kwargs`; synthetic inputs, so the model
alone is timed. Also prints what `precision="auto"` and `jit_compile="auto"`
chose on this machine, and times single TensorFlow ops (a matmul, a 3x3
convolution) in both dtypes: the ceiling for any model-level speed-up. Where
PyTorch is installed (it is not a dependency), the same ops are timed in it
too, as a second framework's reading of the CPU.
(ResNet50 at 224x224 against keras.applications is
`benchmarks.applications_training`.)

    python -m benchmarks.precision_xla
    python -m benchmarks.precision_xla --xla
    python -m benchmarks.precision_xla --smoke
"""

import argparse
import time

from benchmarks.common import alternating_training_rates
from benchmarks.common import hardware
from benchmarks.common import ratio
from benchmarks.common import summarize
from benchmarks.common import synthetic_dataset
from benchmarks.common import write_result

CASES = {
    "ResNet20": {"size": 32, "batch": 128, "classes": 10, "channels": 3},
    "ResNet56": {"size": 32, "batch": 128, "classes": 10, "channels": 3},
}
VARIANTS = (
    ("float32", False),
    ("mixed_bfloat16", False),
    ("float32", True),
    ("mixed_bfloat16", True),
)


def _compiled(name, case, policy, jit):
    import keras

    import keras_residual as kr

    keras.config.set_dtype_policy(policy)
    shape = (case["size"], case["size"], case["channels"])
    model = kr.build(name, input_shape=shape, classes=case["classes"])
    recipe = kr.get_recipe("he2015", batch_size=case["batch"])
    model.compile(**recipe.compile_kwargs(model, steps_per_epoch=100, jit_compile=jit))
    keras.config.set_dtype_policy("float32")
    return model


def _op_shapes(smoke):
    return (256, 16, 8) if smoke else (4096, 256, 56)


def _time_op(function, inputs, rounds, finish):
    finish(function(*inputs))  # trace / warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(3):
            finish(function(*inputs))
        samples.append((time.perf_counter() - start) / 3)
    return summarize(samples)


def _ratio_entry(framework, label, seconds):
    entry = {
        "framework": framework,
        "label": label,
        "seconds": seconds,
        "speedup_bfloat16": seconds["float32"]["median"]
        / seconds["bfloat16"]["median"],
    }
    print(
        f"op {framework:<20} {label:<40} bfloat16 speed-up "
        f"x{entry['speedup_bfloat16']:.2f}",
        flush=True,
    )
    return entry


def op_ratios(rounds, smoke):
    """bfloat16 against float32 for single TensorFlow ops: the ceiling that
    any model-level mixed-precision speed-up on this CPU lives under."""
    import tensorflow as tf

    n, channels, size = _op_shapes(smoke)
    cases = {
        f"matmul {n}x{n}": lambda dtype: (
            tf.function(lambda a: tf.matmul(a, a)),
            (tf.random.normal((n, n), dtype=dtype),),
        ),
        f"conv 3x3, {channels} channels, {size}x{size}, batch 32": lambda dtype: (
            tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME")),
            (
                tf.random.normal((32, size, size, channels), dtype=dtype),
                tf.random.normal((3, 3, channels, channels), dtype=dtype),
            ),
        ),
    }
    results = {}
    for label, make in cases.items():
        seconds = {
            dtype.name: _time_op(*make(dtype), rounds, finish=lambda out: out.numpy())
            for dtype in (tf.float32, tf.bfloat16)
        }
        results[label] = _ratio_entry("TensorFlow", label, seconds)
    return results


def torch_op_ratios(rounds, smoke):
    """The same ops in PyTorch (oneDNN, channels_last), when it is installed:
    a second framework's reading of the same CPU. None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    n, channels, size = _op_shapes(smoke)
    cases = {
        f"matmul {n}x{n}": lambda dtype: (
            torch.matmul,
            (torch.randn(n, n, dtype=dtype),) * 2,
        ),
        f"conv 3x3, {channels} channels, {size}x{size}, batch 32": lambda dtype: (
            lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
            (
                torch.randn(32, channels, size, size, dtype=dtype).to(
                    memory_format=torch.channels_last
                ),
                torch.randn(channels, channels, 3, 3, dtype=dtype).to(
                    memory_format=torch.channels_last
                ),
            ),
        ),
    }
    results = {}
    with torch.no_grad():
        for label, make in cases.items():
            seconds = {
                str(dtype).removeprefix("torch."): _time_op(
                    *make(dtype), rounds, finish=lambda out: None
                )
                for dtype in (torch.float32, torch.bfloat16)
            }
            results[f"PyTorch: {label}"] = _ratio_entry(
                f"PyTorch {torch.__version__}", label, seconds
            )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ResNet20,ResNet56")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--steps", type=int, default=0, help="Timed steps per round. Defaults to 10."
    )
    parser.add_argument(
        "--xla", action="store_true", help="Also time jit_compile=True."
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)

    from keras_residual.training.precision import resolve_jit_compile
    from keras_residual.training.precision import resolve_precision

    rounds = 1 if args.smoke else args.rounds
    variants = [v for v in VARIANTS if (args.xla and not args.smoke) or not v[1]]
    results = {
        "auto_precision": resolve_precision("auto"),
        "auto_jit_compile": resolve_jit_compile("auto"),
        "models": {},
        "ops": op_ratios(rounds + 2, args.smoke),
    }
    print(
        f"auto: precision={results['auto_precision']} "
        f"jit_compile={results['auto_jit_compile']}",
        flush=True,
    )
    for name in args.models.split(","):
        case = dict(CASES[name])
        if args.smoke and name != "ResNet20":
            continue  # ResNet56 takes the same path at 3x the cost
        if args.smoke:
            case.update(size=32, batch=4)
        steps = 1 if args.smoke else (args.steps or 10)
        data = synthetic_dataset(case)
        contenders = {
            f"{p}{'+xla' if j else ''}": _compiled(name, case, p, j)
            for p, j in variants
        }
        stats = alternating_training_rates(
            contenders, data, case["batch"], rounds, steps
        )
        base = stats["float32"]["median"]
        ratios = {label: s["median"] / base for label, s in stats.items()}
        results["models"][name] = {
            "case": case,
            "steps": steps,
            "images_per_second": stats,
            "ratio_to_float32": ratios,
        }
        for label in stats:
            print(
                f"{name:<9} {label:<28} {stats[label]['median']:8.1f} img/s  "
                f"x{ratios[label]:.3f} vs float32",
                flush=True,
            )
    # After the models, so that PyTorch's threads cannot disturb their timing.
    results["ops"].update(torch_op_ratios(rounds + 2, args.smoke) or {})
    results["hardware"] = hardware()
    print("wrote", write_result("precision_xla", results, smoke=args.smoke))


def table_rows(result):
    rows = [
        {
            "benchmark": f"{figures.get('framework', 'TensorFlow')} op: "
            f"{figures.get('label', label)}",
            "measure": "bfloat16 vs float32 speed",
            "ours": f"{figures['seconds']['bfloat16']['median'] * 1e3:.1f} ms",
            "peer": f"float32 {figures['seconds']['float32']['median'] * 1e3:.1f} ms",
            "ratio": ratio(figures["speedup_bfloat16"]),
            "target": "(the platform's ceiling)"
            if figures.get("framework", "TensorFlow") == "TensorFlow"
            else "(the same ceiling, read by PyTorch)",
        }
        for label, figures in result.get("ops", {}).items()
    ]
    for name, figures in result["models"].items():
        stats, case = figures["images_per_second"], figures["case"]
        for label, value in figures["ratio_to_float32"].items():
            if label == "float32":
                continue
            rows.append(
                {
                    "benchmark": f"{name} training, {case['size']}×{case['size']}, "
                    f"batch {case['batch']}",
                    "measure": f"images/s, {label} vs float32",
                    "ours": f"{stats[label]['median']:.0f} img/s",
                    "peer": f"float32 {stats['float32']['median']:.0f} img/s",
                    "ratio": ratio(value),
                    "target": "> 1× on AVX512_BF16",
                }
            )
    return rows


if __name__ == "__main__":
    main()
