"""Weights: files of both formats, refusal of foreign or corrupt files with
the model left untouched, and the download path against a real HTTP server
on 127.0.0.1."""

import hashlib
import os
import warnings

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.weights import WeightsFile
from tests.conftest import TINY
from tests.conftest import free_port
from tests.conftest import random_images
from tests.conftest import tiny_resnet


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def weights_of(model):
    return [np.array(v) for v in model.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def registered(request):
    """Registers test weights for ResNet20 and removes them afterwards."""
    tags = []

    def register(tag, **kwargs):
        tags.append(tag)
        return kr.register_weights("ResNet20", tag, overwrite=True, **kwargs)

    yield register
    for tag in tags:
        kr.weights.unregister_weights("ResNet20", tag)


def test_keras3_weights_file_round_trip(tmp_path):
    keras.utils.set_random_seed(3)
    source = kr.ResNet20()
    path = tmp_path / "resnet20.weights.h5"
    source.save_weights(path)
    loaded = kr.ResNet20(weights=str(path))
    x = random_images(2, 32)
    np.testing.assert_allclose(np.array(loaded(x)), np.array(source(x)), atol=1e-6)


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_file_of_another_architecture_is_refused_and_nothing_loaded(suffix, tmp_path):
    other = kr.ResNet32()
    path = tmp_path / f"resnet32{suffix}"
    if suffix == ".h5":
        from tests.test_keras_applications import _write_legacy_h5

        _write_legacy_h5(other, path)
    else:
        other.save_weights(path)
    model = kr.ResNet20()
    before = weights_of(model)
    with pytest.raises(ValueError, match="does not fit"):
        kr.load_weights(model, path)
    assert_same_weights(weights_of(model), before)
    with pytest.raises(ValueError, match="does not fit"):
        kr.ResNet20(weights=str(path))


def test_same_layer_count_but_other_shapes_is_refused_before_any_assignment(
    tmp_path,
):
    """A legacy file whose late layer mismatches must not half-load."""
    from tests.test_keras_applications import _write_legacy_h5

    wider = kr.build("ResNet20", widths=(16, 32, 128))
    path = tmp_path / "wider.h5"
    _write_legacy_h5(wider, path)
    model = kr.ResNet20()
    before = weights_of(model)
    with pytest.raises(ValueError, match="expects shapes"):
        kr.load_weights(model, path)
    assert_same_weights(weights_of(model), before)


def test_corrupt_and_truncated_files_are_refused(tmp_path):
    model = kr.ResNet20()
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match="not a readable HDF5"):
        kr.load_weights(model, garbage)
    good = tmp_path / "good.weights.h5"
    model.save_weights(good)
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    before = weights_of(model)
    with pytest.raises(ValueError):
        kr.load_weights(model, truncated)
    assert_same_weights(weights_of(model), before)


def test_missing_file_and_unknown_name_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        kr.ResNet50(weights=str(tmp_path / "nope.h5"))
    with pytest.raises(ValueError, match="Did you mean 'imagenet'"):
        kr.ResNet50(weights="imagnet")
    with pytest.raises(ValueError, match="not found"):
        kr.ResNet34(weights="imagenet")  # nothing registered for ResNet34
    with pytest.raises(ValueError, match="resnet18.tv_in1k"):
        kr.ResNet18(weights="imagenet")  # only timm's weights are
    with pytest.raises(TypeError, match="weights"):
        kr.ResNet50(weights=3)


def test_imagenet_weights_refuse_other_activations_before_any_download(keras_home):
    # Other input channels are no longer refused: RGB weights adapt (see
    # test_rgb_weights_adapt_to_one_or_n_input_channels).
    with pytest.raises(ValueError, match="classifier_activation"):
        kr.ResNet50(weights="imagenet", classifier_activation="sigmoid")
    assert not keras_home.exists()  # refused before any download


def test_download_loads_caches_and_reuses(server, keras_home, registered):
    keras.utils.set_random_seed(4)
    source = kr.ResNet20()
    path = server["root"] / "resnet20_test.weights.h5"
    source.save_weights(path)
    registered(
        "local",
        top=WeightsFile(url=server["url"] + path.name, file_hash=sha256(path)),
        classes=10,
    )
    model = kr.ResNet20(weights="local")
    x = random_images(2, 32)
    np.testing.assert_allclose(np.array(model(x)), np.array(source(x)), atol=1e-6)
    cached = keras_home / "models" / path.name
    assert cached.is_file() and sha256(cached) == sha256(path)
    assert len(server["requests"]) == 1
    kr.ResNet20(weights="local")
    assert len(server["requests"]) == 1  # served from the cache
    assert [p.name for p in (keras_home / "models").iterdir()] == [path.name]


def test_hash_mismatch_raises_and_caches_nothing(server, keras_home, registered):
    path = server["root"] / "resnet20_bad.weights.h5"
    kr.ResNet20().save_weights(path)
    registered(
        "bad",
        top=WeightsFile(url=server["url"] + path.name, file_hash="0" * 64),
        classes=10,
    )
    with pytest.raises(ValueError, match="does not match its registered hash"):
        kr.ResNet20(weights="bad")
    assert len(server["requests"]) == 1
    assert list((keras_home / "models").iterdir()) == []


def test_offline_error_names_the_url_and_the_local_file_alternative(
    keras_home, registered
):
    url = f"http://127.0.0.1:{free_port()}/resnet20_offline.h5"
    registered("offline", top=WeightsFile(url=url, file_hash="0" * 64), classes=10)
    with pytest.raises(OSError) as error:
        kr.ResNet20(weights="offline")
    assert url in str(error.value)
    assert "weights='/path/to/resnet20_offline.h5'" in str(error.value)
    assert list((keras_home / "models").iterdir()) == []


def test_other_classes_load_everything_but_the_classifier(
    server, keras_home, registered, tmp_path
):
    """As for 'imagenet' with classes != 1000: the backbone loads, the
    classifier stays fresh, and a warning says so."""
    from tests.test_keras_applications import _write_legacy_h5

    keras.utils.set_random_seed(5)
    source = kr.ResNet20()
    top = server["root"] / "r20_top.h5"
    notop = server["root"] / "r20_notop.h5"
    _write_legacy_h5(source, top)
    backbone = kr.ResNet20(include_top=False)
    backbone.set_weights(source.get_weights()[:-2])
    _write_legacy_h5(backbone, notop)
    registered(
        "pre",
        top=WeightsFile(server["url"] + top.name, sha256(top)),
        notop=WeightsFile(server["url"] + notop.name, sha256(notop)),
        classes=10,
    )
    with pytest.warns(UserWarning, match="except the classifier 'predictions'"):
        model = kr.ResNet20(weights="pre", classes=3)
    assert model.get_layer("predictions").kernel.shape == (64, 3)
    for ours, theirs in zip(model.layers[:-1], source.layers[:-1]):
        assert_same_weights(ours.get_weights(), theirs.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = kr.ResNet20(weights="pre")  # same classes: top file, no warning
    x = random_images(2, 32)
    np.testing.assert_allclose(np.array(exact(x)), np.array(source(x)), atol=1e-6)


@pytest.mark.parametrize(
    "model, family",
    [
        ("ResNet50", keras.applications.resnet),
        ("ResNet101V2", keras.applications.resnet_v2),
        ("DenseNet169", keras.applications.densenet),
    ],
)
def test_registered_weights_carry_the_preprocessing_keras_applications_uses(
    model, family
):
    """The mode a weights entry records must preprocess like the family's own
    keras.applications `preprocess_input`; models built with the weights
    record it (checked here on a local copy of the entry's file)."""
    entry = kr.weights.get_weights_entry(model, "imagenet")
    assert entry.input_size == 224 and entry.classes == 1000
    assert 70 < entry.top1 < 80 and entry.source.startswith("keras.applications")
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        kr.preprocess_input(pixels, mode=entry.preprocessing),
        family.preprocess_input(pixels.copy()),
        rtol=1e-6,
    )


def test_digits_weights_carry_their_metadata():
    entry = kr.weights.get_weights_entry("ResNet20", "digits")
    assert entry.preprocessing == "tf" and entry.input_size == 32
    assert entry.class_names == tuple("0123456789")
    assert entry.license == "Apache-2.0" and entry.top1 > 95
    assert kr.ResNet20(weights="digits").preprocessing == "tf"
    with pytest.raises(ValueError, match=r"`class_names` has 2 names; `classes` is 3"):
        kr.register_weights(
            "ResNet20", "bad", top=entry.top, classes=3, class_names=["a", "b"]
        )
    with pytest.raises(ValueError, match=r"`preprocessing`.*'torh'.*'torch'"):
        kr.register_weights("ResNet20", "bad", top=entry.top, preprocessing="torh")
    assert "bad" not in kr.list_weights("ResNet20")


def test_rgb_weights_adapt_to_one_or_n_input_channels(tmp_path):
    """As timm's adapt_input_conv: a 1-channel model on image g equals the
    RGB model on g repeated three times; N channels repeat the RGB kernel
    and scale it by 3/N. Both say so with a warning."""
    from keras_residual.weights import save_legacy_weights

    rgb = tiny_resnet(input_shape=(32, 32, 3), classes=10)
    rgb.set_weights([w + 0.01 * i for i, w in enumerate(rgb.get_weights())])
    path = save_legacy_weights(rgb, str(tmp_path / "rgb.h5"))
    with pytest.warns(UserWarning, match=r"conv1_conv.*1 input channel.*summed"):
        grey = tiny_resnet(input_shape=(32, 32, 1), classes=10, weights=path)
    g = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(
        grey.predict(g, verbose=0),
        rgb.predict(np.repeat(g, 3, axis=-1), verbose=0),
        atol=1e-5,
    )
    with pytest.warns(UserWarning, match=r"5 input channel.*scaled by 3/5"):
        five = tiny_resnet(input_shape=(32, 32, 5), classes=10, weights=path)
    kernel = np.asarray(rgb.get_layer("conv1_conv").kernel)
    expected = np.concatenate([kernel, kernel], axis=2)[:, :, :5] * 3 / 5
    np.testing.assert_allclose(
        np.asarray(five.get_layer("conv1_conv").kernel), expected, rtol=1e-6
    )
    for name in ("conv2_block1_1_conv", "predictions"):
        np.testing.assert_array_equal(
            np.asarray(five.get_layer(name).kernel),
            np.asarray(rgb.get_layer(name).kernel),
        )
    kr.register_weights(
        "ResNet20",
        "rgb_test",
        top=WeightsFile(path=path, file_hash=sha256(path)),
        classes=10,
        preprocessing="tf",
    )
    try:
        with pytest.warns(UserWarning, match=r"summed"):
            registered = tiny_resnet(weights="rgb_test", input_shape=(32, 32, 1))
        np.testing.assert_allclose(
            registered.predict(g, verbose=0), grey.predict(g, verbose=0), atol=1e-6
        )
    finally:
        kr.weights.unregister_weights("ResNet20", "rgb_test")


@pytest.mark.jax
def test_build_takes_a_keras_file_or_run_directory_through_the_one_resolver(
    tmp_path,
):
    """`build()` and `train()` resolve `weights=` with one function: a
    `.keras` file loads into `build()` too, with the source's input,
    preprocessing and class names, and a new classifier for other classes."""
    from keras_residual.models.weights_request import resolve_weights

    keras.utils.set_random_seed(7)
    source = tiny_resnet(
        input_shape=(32, 32, 1),
        classes=4,
        preprocessing="tf",
        class_names=["a", "b", "c", "d"],
    )
    path = str(tmp_path / "source.keras")
    source.save(path)
    request = resolve_weights("ResNet20", path)
    assert request.kind == "keras" and request.classes == 4
    assert resolve_weights("ResNet20", request) is request

    same = kr.build("ResNet20", weights=path, **TINY)
    assert same.input_shape == (None, 32, 32, 1)
    assert same.preprocessing == "tf" and same.class_names == ["a", "b", "c", "d"]
    assert_same_weights(weights_of(same), weights_of(source))
    images = random_images(2, 32, channels=1)
    np.testing.assert_allclose(same.predict(images), source.predict(images), atol=1e-6)

    with pytest.warns(UserWarning, match="except the classifier 'predictions'"):
        other = kr.build("ResNet20", weights=path, **TINY, classes=3)
    assert other.class_names is None
    for layer in other.layers:
        if layer.weights and layer.name != "predictions":
            assert_same_weights(
                layer.get_weights(), source.get_layer(layer.name).get_weights()
            )
    with pytest.raises(ValueError, match="does not fit"):
        kr.build("ResNet20", weights=path)  # 3 blocks a stage: not the same net
