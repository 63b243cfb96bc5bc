"""One name per idea (#27): the new names work, and every 0.1 name they
replace still works, with one `FutureWarning` that names the new one."""

import os
import warnings

import numpy as np
import pytest

import keras_residual as kr
from keras_residual import cli
from keras_residual.utils import deprecation
from tests.conftest import run_python
from tests.conftest import tiny_resnet


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


MOVED_MODULES_CHECK = """
import importlib, warnings
import keras_residual as kr
for old, new in sorted(kr.MOVED_MODULES.items()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new), old
    assert [str(w.message).split("`")[1:4:2] for w in caught] == [[old, new]], old
print("MOVED", len(kr.MOVED_MODULES))
"""


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_moved_modules_import_from_their_old_path_with_a_warning():
    result = run_python(MOVED_MODULES_CHECK)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MOVED 8" in result.stdout
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for old in kr.MOVED_MODULES:  # no file is left at an old path
        assert not os.path.exists(os.path.join(root, *old.split(".")) + ".py")


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


def test_model_spec_final_norm_prefix_and_its_old_name(tmp_path):
    spec = kr.get_spec("ResNet50V2")
    assert spec.final_norm_prefix == "post"
    assert "final_norm" not in spec.to_dict()
    fields = {**spec.to_dict(), "final_norm_prefix": None}
    with pytest.warns(FutureWarning, match="`final_norm` is deprecated"):
        old = kr.ModelSpec(**{**fields, "final_norm": "post"})
    assert old == spec
    with pytest.warns(FutureWarning, match="final_norm_prefix"):
        assert old.final_norm == "post"
    with pytest.warns(FutureWarning, match="`final_norm` is deprecated"):
        assert spec.replace(final_norm="").final_norm_prefix == ""
    assert spec.replace(final_norm_kind="norm_act") == spec
    with pytest.raises(TypeError, match="both `final_norm_prefix` and .*`final_norm`"):
        kr.ModelSpec(**{**fields, "final_norm_prefix": "x", "final_norm": "post"})
    # A spec saved before the rename (`.keras`, run.json, model cards).
    saved = {**spec.to_dict()}
    saved["final_norm"] = saved.pop("final_norm_prefix")
    assert kr.ModelSpec.from_dict(saved) == spec
    names = [
        layer.name for layer in kr.build(spec.replace(final_norm_prefix="top")).layers
    ]
    assert names[-4:-2] == ["top_bn", "top_relu"]


def test_export_takes_out_and_none_and_their_old_spellings(tmp_path):
    model = tiny_resnet(input_shape=(16, 16, 1), classes=2)
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


def test_one_keras_applications_signature_for_every_constructor():
    import inspect

    import keras

    from keras_residual.core.application import APPLICATION_ARGS

    theirs = list(inspect.signature(keras.applications.ResNet50).parameters)
    assert list(APPLICATION_ARGS) == theirs + ["preprocessing"]  # their order
    for name in kr.list_models():
        parameters = inspect.signature(getattr(kr, name)).parameters
        assert list(parameters)[:-1] == list(APPLICATION_ARGS), name
        assert parameters["name"].default == name.lower()
    build = list(inspect.signature(kr.build).parameters)
    assert [p for p in build if p in APPLICATION_ARGS] == list(APPLICATION_ARGS)
    checkpoint = list(inspect.signature(kr.from_checkpoint).parameters)
    assert checkpoint[1:-1] == [p for p in APPLICATION_ARGS if p != "weights"]
    model = list(inspect.signature(kr.ResidualModel).parameters)
    assert set(APPLICATION_ARGS) - {"weights"} <= set(model)


@pytest.mark.jax
def test_entry_points_refuse_misspelt_arguments_with_the_right_name():
    with pytest.raises(TypeError, match="'inclde_top'; did you mean 'include_top'"):
        kr.ResNet20(inclde_top=False)
    with pytest.raises(TypeError, match=r"ResNet20\(\): too many positional"):
        kr.ResNet20(True, None, None, None, None, 10, "softmax", "n", None, 5)
    model = kr.ResNet20(False, None, None, (32, 32, 3), "avg")  # as keras'
    assert model.output.shape == (None, 64)
