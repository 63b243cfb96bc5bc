"""Training throughput: float32 against mixed_bfloat16, XLA off against on.

Side by side in one process, in alternating rounds. Each round times every
training step with a callback and keeps the median step (so `fit`'s start-up
is not counted); the figure is the median over --rounds:
ResNet20 at 32x32, batch 128, and ResNet50 at 224x224, batch 32, with
keras.applications ResNet50 in float32 as the peer. Synthetic inputs, so
the model alone is timed. Also prints what `precision="auto"` and
`jit_compile="auto"` chose on this machine.

    python -m benchmarks.precision_xla
    python -m benchmarks.precision_xla --smoke
"""

import argparse
import time

import keras
import numpy as np

from benchmarks.common import hardware
from benchmarks.common import summarize
from benchmarks.common import write_result

CASES = {
    "ResNet20": {"size": 32, "batch": 128, "classes": 10, "channels": 3},
    "ResNet50": {"size": 224, "batch": 32, "classes": 1000, "channels": 3},
}
VARIANTS = (
    ("float32", False), ("mixed_bfloat16", False),
    ("float32", True), ("mixed_bfloat16", True),
)


def _compiled(name, case, policy, jit, peer=False):
    import keras

    import keras_residual as kr

    keras.config.set_dtype_policy(policy)
    shape = (case["size"], case["size"], case["channels"])
    if peer:
        model = keras.applications.ResNet50(weights=None, input_shape=shape,
                                            classes=case["classes"])
    else:
        model = kr.build(name, input_shape=shape, classes=case["classes"])
    recipe = kr.get_recipe("he2015", batch_size=case["batch"])
    model.compile(**recipe.compile_kwargs(model, steps_per_epoch=100,
                                          jit_compile=jit))
    keras.config.set_dtype_policy("float32")
    return model


class _StepClock(keras.callbacks.Callback):
    """Records each training step's wall time."""

    def __init__(self):
        super().__init__()
        self.durations, self._started = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.durations.append(time.perf_counter() - self._started)

    def median_step(self):
        return float(np.median(self.durations))


def _dataset(case):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (case["batch"], case["size"], case["size"],
                            case["channels"])).astype("float32")
    y = rng.integers(0, case["classes"], case["batch"]).astype("int32")
    return tf.data.Dataset.from_tensors((x, y)).repeat()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ResNet20,ResNet50")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=0,
                        help="Timed steps per round (default: 20 for "
                             "ResNet20, 4 for ResNet50).")
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)

    from keras_residual.precision import resolve_jit_compile
    from keras_residual.precision import resolve_precision

    rounds = 1 if args.smoke else args.rounds
    variants = [v for v in VARIANTS if not (args.no_xla or args.smoke) or not v[1]]
    results = {"auto_precision": resolve_precision("auto"),
               "auto_jit_compile": resolve_jit_compile("auto"), "models": {}}
    print(f"auto: precision={results['auto_precision']} "
          f"jit_compile={results['auto_jit_compile']}", flush=True)
    for name in args.models.split(","):
        case = dict(CASES[name])
        if args.smoke:
            case.update(size=32, batch=4)
        steps = 1 if args.smoke else (args.steps or (20 if name == "ResNet20" else 4))
        data = _dataset(case)
        contenders = {f"{p}{'+xla' if j else ''}": _compiled(name, case, p, j)
                      for p, j in variants}
        if name == "ResNet50":
            contenders["keras.applications float32"] = _compiled(
                name, case, "float32", False, peer=True)
        samples = {label: [] for label in contenders}
        for label, model in contenders.items():  # warm-up and compile
            model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
        for _ in range(rounds):
            for label, model in contenders.items():
                clock = _StepClock()
                model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
                          callbacks=[clock])
                samples[label].append(case["batch"] / clock.median_step())
        stats = {label: summarize(values) for label, values in samples.items()}
        base = stats["float32"]["median"]
        ratios = {label: s["median"] / base for label, s in stats.items()}
        results["models"][name] = {"case": case, "steps": steps,
                                   "images_per_second": stats,
                                   "ratio_to_float32": ratios}
        for label in stats:
            print(f"{name:<9} {label:<28} {stats[label]['median']:8.1f} img/s  "
                  f"x{ratios[label]:.3f} vs float32", flush=True)
    results["hardware"] = hardware()
    if not args.smoke:
        print("wrote", write_result("precision_xla", results))


if __name__ == "__main__":
    main()
