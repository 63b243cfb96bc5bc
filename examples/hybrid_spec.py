"""A hybrid network: DenseNet stages followed by residual stages, one spec.

    python examples/hybrid_spec.py

Any stage of any spec can use any registered block, so families mix freely.
"""

import keras
import numpy as np

import keras_residual as kr

HYBRID = kr.ModelSpec(
    stem=kr.StemSpec("cifar", 24, {"norm": False}),
    stages=(
        # Two dense stages (growth 12, bottleneck 4), each closed by a
        # compressing transition...
        kr.StageSpec(
            4,
            12,
            "dense",
            stride=1,
            shortcut="none",
            transition="dense_transition",
            transition_args={"compression": 0.5},
        ),
        kr.StageSpec(
            4,
            12,
            "dense",
            stride=1,
            shortcut="none",
            transition="dense_transition",
            transition_args={"compression": 0.5},
        ),
        # ...then a pre-activation residual stage and a highway stage.
        kr.StageSpec(2, 64, "preact_basic", stride=1),
        kr.StageSpec(2, 64, "highway", stride=1, args={"gate_bias": -2.0}),
    ),
    final_norm_prefix="post",
    use_bias=False,
    default_size=32,
)


def main():
    model = kr.build(HYBRID, classes=10, name="dense_residual_highway")
    print(
        f"{model.name}: {model.count_params():,} parameters; stages "
        f"{[s.block for s in model.spec.stages]}"
    )
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 3)).astype("float32")
    y = np.arange(64) % 10
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    print(f"training loss on 64 random images: {losses[0]:.3f} -> {losses[-1]:.3f}")
    print("spec JSON:", HYBRID.to_json()[:100], "...")


if __name__ == "__main__":
    main()
