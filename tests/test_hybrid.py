"""One spec mixing families; a block that cannot take its stage's width."""

import json
import re

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import load_example
from tests.conftest import random_images

EXAMPLE = load_example("hybrid_spec")
HYBRID = EXAMPLE.HYBRID


@pytest.mark.jax
def test_hybrid_spec_builds_trains_round_trips_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    model = kr.build(HYBRID, classes=10)
    blocks = {kr.get_block(s.block).merge for s in model.spec.stages}
    assert blocks == {"concat", "add", "gate"}
    assert kr.ModelSpec.from_dict(json.loads(HYBRID.to_json())) == HYBRID
    x = random_images(16, 32)
    y = np.arange(16) % 10
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    losses = model.fit(x, y, epochs=4, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    path = tmp_path / "hybrid.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.array(reloaded(x)), np.array(model(x)), atol=1e-5)


@pytest.mark.slow
def test_hybrid_example_runs(capsys):
    EXAMPLE.main()
    printed = capsys.readouterr().out
    assert "dense_residual_highway" in printed
    losses = re.search(r"random images: ([\d.]+) -> ([\d.]+)", printed).groups()
    assert float(losses[1]) < float(losses[0])


def test_block_that_cannot_take_the_stage_width():
    narrowing = kr.ModelSpec(
        stem=kr.StemSpec("cifar", 32),
        stages=(kr.StageSpec(1, 16, "basic", stride=1, shortcut="zero_pad"),),
        default_size=32,
    )
    with pytest.raises(ValueError, match=r"`filters` must be >= the input channels"):
        kr.build(narrowing)
