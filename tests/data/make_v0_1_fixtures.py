"""Writes tests/data/hybrid_v0_1.keras and hybrid_v0_1_outputs.npz.

Run once with keras_residual 0.1 (commit 6546862, before the layout move),
from the repository root: one model holding every custom serializable
object, and what 0.1 predicted for a fixed input. tests/test_layout.py
checks that later versions reload the file and predict the same. Rerunning
it with a later version would only test that version against itself.
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
import numpy as np

import keras_residual as kr

spec = kr.ModelSpec(
    stem=kr.StemSpec("cifar", 8),
    stages=(
        kr.StageSpec(2, 8, "basic", stride=1, shortcut="zero_pad"),
        kr.StageSpec(
            1, 16, "highway", stride=2, shortcut="projection", args={"gate_bias": -1.5}
        ),
        kr.StageSpec(
            2,
            8,
            "dense",
            stride=1,
            shortcut="none",
            args={"memory_efficient": True},
            transition="dense_transition",
            transition_args={"compression": 0.5},
        ),
        kr.StageSpec(1, 16, "basic", stride=2, shortcut="zero_pad"),
    ),
    drop_path_rate=0.1,
    default_size=32,
    min_size=16,
)
keras.utils.set_random_seed(7)
model = kr.build(spec, input_shape=(16, 16, 1), classes=5, name="hybrid_v0_1")
model.compile(
    "sgd", kr.ClassificationCrossentropy(label_smoothing=0.1), metrics=["accuracy"]
)
x = np.random.default_rng(7).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
model.fit(
    x, np.arange(4) % 5, epochs=1, verbose=0
)  # moves BN statistics off their defaults
model.save("tests/data/hybrid_v0_1.keras")
np.savez(
    "tests/data/hybrid_v0_1_outputs.npz", inputs=x, outputs=model.predict(x, verbose=0)
)
print(model.count_params(), sorted({type(layer).__name__ for layer in model.layers}))
