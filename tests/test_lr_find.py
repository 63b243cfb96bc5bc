"""The learning-rate range test: its sweep, its suggestion, the files it
writes, and the command."""

import json

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.cli import main
from keras_residual.training.lr_find import _result
from tests.conftest import digits_resnet


def _loss(x):
    """A loss against log10(rate): falls around 1e-3, rises after 1e-2."""
    return (
        2.0 - 1.0 / (1.0 + np.exp(-3.0 * (x + 3.0))) + 0.5 * np.maximum(x + 2, 0) ** 2
    )


def test_the_suggestion_is_a_tenth_of_the_rate_of_lowest_loss():
    rates = np.geomspace(1e-5, 1.0, 101)
    losses = list(_loss(np.log10(rates)))
    grid = np.linspace(-5, 0, 100_001)
    lowest = 10 ** grid[np.argmin(_loss(grid))]
    result = _result(list(rates), losses, batch_size=32, recipe=kr.get_recipe("fast"))
    assert result.suggestion == pytest.approx(lowest / 10, rel=0.15)
    assert result.steepest == pytest.approx(1e-3, rel=0.15)
    # The fast recipe's rates are for batch 64: twice the rate at 32.
    assert result.recipe_learning_rate == pytest.approx(2 * result.suggestion)
    flat = _result(
        list(rates), [2.0] * 101, batch_size=32, recipe=kr.get_recipe("fast")
    )
    assert flat.suggestion is None


@pytest.mark.slow  # over ~7 s: out of the fast tier
@pytest.mark.jax
def test_a_sweep_stops_when_the_loss_diverges_and_restores_a_given_model(tmp_path):
    model = digits_resnet()
    before = [w.copy() for w in model.get_weights()]
    result = kr.lr_find(
        model, "digits", tmp_path / "lr", start=1e-4, end=1e4, steps=60, verbose=0
    )
    assert len(result.losses) < 60  # 1e4 diverges long before the end
    ratios = np.diff(np.log(result.rates))
    np.testing.assert_allclose(ratios, np.log(1e8) / 59, rtol=1e-9)
    assert result.rates[0] == pytest.approx(1e-4)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert result.suggestion is not None
    lowest = result.rates.index(
        min(result.rates, key=lambda r: abs(r - 10 * result.suggestion))
    )
    assert result.smoothed[lowest] < result.smoothed[0]
    saved = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    assert saved["suggestion"] == result.suggestion
    assert saved["losses"] == result.losses
    png = (tmp_path / "lr" / "lr_find.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_the_command_prints_the_rate_and_refuses_bad_input(tmp_path, capsys):
    code = main(
        [
            "lr-find",
            "ResNet20",
            "--out",
            str(tmp_path / "lr"),
            "--steps",
            "30",
            "--start",
            "1e-3",
            "--end",
            "3",
            "--depths",
            "1,1,1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Suggested learning rate" in out or "never fell" in out
    assert (tmp_path / "lr" / "lr_find.png").is_file()
    assert main(["lr-find", "--out", str(tmp_path / "x"), "--steps", "2"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "steps" in error and "2" in error
    assert keras.config.dtype_policy().name == "float32"
