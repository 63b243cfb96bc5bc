"""The command line on bad input: one line and exit 2, never a traceback
(unless --debug); sizes that once hung a run answer at once. Each test
reproduces an attack or a finding that worked before its fix (the hardening
rounds of issues #15 and #40)."""

import os

import pytest

import keras_residual as kr
from tests.conftest import small_classifier
from tests.safety_helpers import deadline


def test_cards_of_the_wrong_type_or_too_deep_exit_2_with_one_line(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.model_card import card_path

    path = kr.export(small_classifier(), str(tmp_path / "m.keras"), "keras",
                     preprocessing="tf")  # fmt: skip
    image = tmp_path / "x.png"
    Image.new("L", (16, 16)).save(image)
    for content, message in [
        ("[1, 2]", "holds a JSON list; a model card is a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply"),
        ('{"classes": 3, "classes": 4}', "duplicate key 'classes'"),
        ('{"input_shape": [16, 16, 0]}', "input shape [16, 16, 0]; an export"),
    ]:
        with open(card_path(path), "w") as handle:
            handle.write(content)
        assert main(["predict", path, str(image)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_the_cli_turns_any_other_exception_into_one_line_unless_debug(
    capsys, monkeypatch
):
    """An error no check named (here the KeyError an HDF5 file without a
    group raises) exits 2 with its type in one line; --debug re-raises."""
    from keras_residual.cli import main

    def broken(*args, **kwargs):
        raise KeyError("layer_names")

    import keras_residual.cli.zoo

    monkeypatch.setattr(keras_residual.cli.zoo, "read_catalog", broken)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "keras-residual: error: KeyError: 'layer_names' (--debug shows the traceback)\n"
    )
    with pytest.raises(KeyError):
        main(["--debug", "models"])


def test_a_deep_precision_cache_falls_back_with_its_warning(tmp_path, monkeypatch):
    from keras_residual.training.precision_probe import cache_path
    from keras_residual.training.precision_probe import read_cache

    monkeypatch.setenv("KERAS_RESIDUAL_CACHE_DIR", str(tmp_path))
    os.makedirs(os.path.dirname(cache_path()), exist_ok=True)
    with open(cache_path(), "w") as handle:
        handle.write("[" * 100_000 + "]" * 100_000)
    with pytest.warns(UserWarning, match="unreadable precision cache.*too deeply"):
        assert read_cache() == {}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rand-augment", "100000"], r"`rand_augment` must lie in \[0, 11\]"),
        (["--batch-size", "1000000000"], r"`batch_size` must lie in \[1, 65536\]"),
        (["--classes", "1000000000"], "over the limit of 1000000 classes"),
        (["--rand-augment-magnitude", "0"], r"`rand_augment_magnitude` must lie in"),
    ],
)
def test_cli_sizes_that_hung_a_run_answer_at_once(tmp_path, capsys, argv, message):
    from keras_residual.cli import main

    with deadline(60):
        code = main(["train", "--out", str(tmp_path / "run"), "--epochs", "1", *argv])
    assert code == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "run" / "run.json").exists()
