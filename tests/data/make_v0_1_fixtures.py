"""Writes tests/data/hybrid_v0_1.keras with keras_residual 0.1 (before the
layout move): one model holding every custom serializable object."""
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras
import keras_residual as kr

spec = kr.ModelSpec(
    stem=kr.StemSpec("cifar", 8),
    stages=(
        kr.StageSpec(2, 8, "basic", stride=1, shortcut="zero_pad"),
        kr.StageSpec(1, 16, "highway", stride=2, shortcut="projection",
                     args={"gate_bias": -1.5}),
        kr.StageSpec(2, 8, "dense", stride=1, shortcut="none",
                     args={"memory_efficient": True},
                     transition="dense_transition",
                     transition_args={"compression": 0.5}),
        kr.StageSpec(1, 16, "basic", stride=2, shortcut="zero_pad"),
    ),
    drop_path_rate=0.1, default_size=32, min_size=16,
)
keras.utils.set_random_seed(7)
model = kr.build(spec, input_shape=(16, 16, 1), classes=5, name="hybrid_v0_1")
model.compile("sgd", kr.ClassificationCrossentropy(label_smoothing=0.1),
              metrics=["accuracy"])
x = np.random.default_rng(7).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
model.fit(x, np.arange(4) % 5, epochs=1, verbose=0)  # moves BN statistics off their defaults
model.save("tests/data/hybrid_v0_1.keras")
np.savez("tests/data/hybrid_v0_1_outputs.npz", inputs=x,
         outputs=model.predict(x, verbose=0))
print(model.count_params(), sorted({type(l).__name__ for l in model.layers}))
