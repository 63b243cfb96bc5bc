"""One name per idea (#27): the new names work, and every 0.1 name they
replace still works, with one `FutureWarning` that names the new one."""

import warnings

import numpy as np
import pytest

import keras_residual as kr
from keras_residual import cli
from keras_residual.utils import deprecation


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Each test sees the first use of a name (warnings are once per name)."""
    deprecation._WARNED.clear()
    yield
    deprecation._WARNED.clear()


MOVED = {
    "BlockCall": "blocks",
    "BlockInfo": "blocks",
    "LayerFactory": "blocks",
    "residual_add": "blocks",
    "shortcut_path": "blocks",
    "plan_blocks": "core",
    "GateTelemetry": "analysis",
    "gate_activations": "analysis",
    "plot_gate_activations": "analysis",
}


@pytest.mark.parametrize("name", sorted(MOVED))
def test_moved_top_level_names_import_once_with_a_warning(name):
    namespace = getattr(kr, MOVED[name])
    with pytest.warns(FutureWarning, match=rf"keras_residual\.{MOVED[name]}\.{name}"):
        moved = getattr(kr, name)
    assert moved is getattr(namespace, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(kr, name) is moved  # once per name
    assert name not in vars(kr)  # served by __getattr__, not bound


def test_unknown_top_level_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'resnet_fifty'"):
        kr.resnet_fifty  # noqa: B018


def test_search_is_one_callable_name_and_the_subpackage_still_imports():
    import keras_residual.search.space as space

    assert callable(kr.search) and kr.search.space is space
    from keras_residual.search import search as function

    # Calling the package runs search(): its own argument checks answer.
    with pytest.raises(ValueError, match="`tuner`") as by_package:
        kr.search("digits", "unused", tuner="grid-of-doom")
    with pytest.raises(ValueError, match="`tuner`") as by_function:
        function("digits", "unused", tuner="grid-of-doom")
    assert str(by_package.value) == str(by_function.value)
    assert kr.load_predictor.__module__ == "keras_residual.serving.predictor"
    assert kr.count_flops(kr.ResNet20(input_shape=(32, 32, 3))) > 0


def _arrays():
    rng = np.random.default_rng(0)
    return rng.random((20, 8, 8, 1), dtype=np.float32), np.arange(20) % 2


def test_load_data_takes_classes_and_its_old_name_num_classes():
    data = kr.load_data(_arrays(), classes=3, batch_size=4, augment="none")
    assert data.classes == 3
    with pytest.warns(FutureWarning, match="`num_classes` is deprecated"):
        old = kr.load_data(_arrays(), num_classes=3, batch_size=4, augment="none")
    assert old.classes == 3
    with pytest.warns(FutureWarning, match="DataBundle.classes"):
        assert old.num_classes == 3
    with pytest.raises(TypeError, match="both `classes` and .*`num_classes`"):
        kr.load_data(_arrays(), classes=3, num_classes=3)
    with pytest.raises(ValueError, match="`classes`"):
        kr.load_data(_arrays(), classes=1)


def test_export_takes_out_and_none_and_their_old_spellings(tmp_path):
    model = kr.build("ResNet20", input_shape=(16, 16, 1), classes=2, depths=(1, 1, 1))
    written = kr.export(
        model, out=str(tmp_path / "a.keras"), format="keras", preprocessing="tf"
    )
    assert written.endswith("a.keras")
    with pytest.warns(FutureWarning, match="pass `out` instead"):
        kr.export(
            model, path=str(tmp_path / "b.keras"), format="keras", preprocessing="tf"
        )
    assert (tmp_path / "b.keras").is_file()
    with pytest.raises(TypeError, match="`out`"):
        kr.export(model, format="keras", preprocessing="tf")

    new = kr.export(model, str(tmp_path / "n"), preprocessing="none")
    with pytest.warns(FutureWarning, match="pass 'none'"):
        old = kr.export(model, str(tmp_path / "o"), preprocessing=None)
    assert kr.load_predictor(new).preprocessing is None
    assert kr.load_predictor(old).preprocessing is None
    with pytest.raises(ValueError, match="records none"):
        kr.export(model, str(tmp_path / "auto"))  # "auto" is not "none"


def test_summary_takes_image_size_as_train_does_and_input_size_still(capsys):
    for flag in ("--image-size", "--input-size"):
        assert cli.main(["summary", "ResNet20", flag, "40"]) == 0
        assert "(None, 40, 40, 3)" in capsys.readouterr().out
