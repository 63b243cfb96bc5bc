"""preprocess_input and decode_predictions follow keras.applications;
`Preprocessing` round-trips through configs, timm and keras-hub."""

import dataclasses
import hashlib
import json

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import preprocess
from keras_residual.hub.preprocessing_formats import from_image_converter
from keras_residual.hub.preprocessing_formats import from_timm
from keras_residual.hub.preprocessing_formats import to_image_converter
from keras_residual.hub.preprocessing_formats import to_timm
from keras_residual.weights import WeightsFile
from tests.conftest import tiny_resnet


def images():
    return np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (kr.models.resnet.preprocess_input, keras.applications.resnet.preprocess_input),
        (
            kr.models.resnet_v2.preprocess_input,
            keras.applications.resnet_v2.preprocess_input,
        ),
    ],
)
def test_family_preprocessing_equals_keras_applications(ours, theirs):
    np.testing.assert_allclose(
        np.array(ours(images())), np.array(theirs(images())), rtol=1e-6
    )


def test_preprocess_for_any_registered_model_and_bad_mode():
    x = kr.preprocess_for("ResNet20")(images())
    np.testing.assert_allclose(np.array(x), images() / 127.5 - 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"`mode`.*'cafe'.*Did you mean 'caffe'"):
        kr.preprocess_input(images(), mode="cafe")


def test_decode_predictions_with_class_names():
    preds = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    decoded = kr.decode_predictions(preds, top=2, class_names=["a", "b", "c"])
    assert decoded == [
        [("1", "b", 0.7), ("2", "c", 0.2)],
        [("0", "a", 0.5), ("2", "c", 0.3)],
    ]
    with pytest.raises(ValueError, match=r"shape \(samples, 3\)"):
        kr.decode_predictions(np.ones((2, 4)), class_names=["a", "b", "c"])


def test_imagenet_decode_downloads_the_class_index_once(
    server, keras_home, monkeypatch
):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = server["root"] / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(
        kr.models.preprocessing,
        "IMAGENET_CLASS_INDEX",
        WeightsFile(
            url=server["url"] + path.name,
            file_hash=hashlib.md5(path.read_bytes()).hexdigest(),
        ),
    )
    preds = np.zeros((1, 1000))
    preds[0, 417] = 0.9
    preds[0, 3] = 0.1
    decoded = kr.decode_predictions(preds, top=2)
    assert decoded == [[("n00000417", "class_417", 0.9), ("n00000003", "class_3", 0.1)]]
    kr.decode_predictions(preds)
    assert len(server["requests"]) == 1


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_one_preprocessing_serves_the_function_the_pipeline_and_the_server(mode):
    """`preprocess_input`, the serving signature's uint8 preprocessing and
    (for "tf") the `load_data` pipeline compute keras.applications' values."""
    import tensorflow as tf

    from keras_residual.serving.signatures import preprocess_uint8

    pixels = np.random.default_rng(3).integers(0, 256, (2, 8, 8, 3)).astype("uint8")
    expected = keras.applications.imagenet_utils.preprocess_input(
        pixels.astype("float32"), mode=mode
    )
    np.testing.assert_allclose(
        kr.preprocess_input(pixels, mode=mode), expected, rtol=1e-6
    )
    served = preprocess_uint8(tf.constant(pixels), mode, (8, 8)).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-6)
    channels_first = kr.preprocess_input(
        pixels.transpose(0, 3, 1, 2), mode=mode, data_format="channels_first"
    )
    np.testing.assert_allclose(
        np.asarray(channels_first).transpose(0, 2, 3, 1), expected, rtol=1e-6
    )
    if mode == "tf":  # the pipeline's mode; the test split is not shuffled
        floats, labels = pixels.astype("float32"), np.array([0, 1])
        data = kr.load_data(
            {"train": (floats, labels), "test": (floats, labels)},
            batch_size=2,
            augment="none",
            validation_fraction=0.0,
        )
        batch = next(iter(data.test))[0].numpy()
        np.testing.assert_allclose(batch, expected, rtol=1e-6)


def test_rgb_modes_refuse_other_channel_counts():
    """caffe and torch subtract a per-channel RGB mean: on a grey image it
    would silently broadcast to three channels."""
    grey = np.zeros((1, 4, 4, 1), "float32")
    for mode in ("caffe", "torch"):
        with pytest.raises(ValueError, match=rf"={mode}` needs RGB images.*1 channel"):
            kr.preprocess_input(grey, mode=mode)
        with pytest.raises(ValueError, match=rf"={mode}` needs RGB images.*1 channel"):
            kr.load_data("digits", preprocessing=mode)
    assert kr.preprocess_input(grey, mode="tf").shape == grey.shape


CLIP = Preprocessing(
    mean=(0.48145466, 0.4578275, 0.40821073),
    std=(0.26862954, 0.26130258, 0.27577711),
    interpolation="bicubic",
    crop_fraction=0.875,
)


def test_a_preprocessing_round_trips_through_its_config_and_a_keras_file(tmp_path):
    """Named modes are recorded by name, any other by its config; both come
    back equal from a `.keras` file loaded with safe_mode."""
    assert MODES["caffe"] == "caffe" and MODES["caffe"].to_json() == "caffe"
    assert Preprocessing.from_config(CLIP.get_config()) == CLIP
    assert json.loads(json.dumps(CLIP.to_json())) == CLIP.get_config()
    assert Preprocessing(scale=127.5, mean=1.0).name == "tf"  # spelled anew
    model = tiny_resnet(input_shape=(16, 16, 3), preprocessing=CLIP)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.preprocessing == CLIP and loaded.preprocessing is not CLIP
    with pytest.raises(
        ValueError, match="'interpolaton' \\(did you mean 'interpolation'"
    ):
        Preprocessing.from_config({"interpolaton": "bilinear"})
    with pytest.raises(ValueError, match="`std` must lie in"):
        Preprocessing(std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="one per RGB channel"):
        Preprocessing(mean=(0.1, 0.2))
    with pytest.raises(ValueError, match="Invalid `interpolation`"):
        Preprocessing(interpolation="cubic")


@pytest.mark.parametrize("spec", [MODES["tf"], MODES["torch"], CLIP])
def test_timm_and_keras_hub_spellings_map_back_exactly(spec):
    """Through timm's pretrained_cfg and keras-hub's converter config and
    back: the same object (a named mode stays named)."""
    assert from_timm(to_timm(spec)) == spec
    if spec.crop_fraction == 1.0:
        assert from_image_converter(to_image_converter(spec)) == spec
    else:  # keras-hub's converter has no crop fraction
        with pytest.raises(ValueError, match="no crop fraction"):
            to_image_converter(spec)
    whole = dataclasses.replace(spec, crop_fraction=1.0)
    assert from_image_converter(to_image_converter(whole)) == whole


def test_caffe_order_has_no_timm_or_keras_hub_spelling():
    for write in (to_timm, to_image_converter):
        with pytest.raises(ValueError, match="BGR order has no spelling"):
            write("caffe")


def test_keras_hub_image_converter_and_preprocess_compute_the_same():
    """keras-hub's own ImageConverter, built from our spelling and read into
    it, scales pixels as `preprocess` does."""
    keras_hub = pytest.importorskip("keras_hub")
    pixels = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 3)).astype("float32")
    whole = dataclasses.replace(CLIP, crop_fraction=1.0)
    for spec in (MODES["tf"], MODES["torch"], whole):
        layer = keras_hub.layers.ImageConverter(**to_image_converter(spec))
        theirs = keras.ops.convert_to_numpy(layer(pixels))
        np.testing.assert_allclose(preprocess(pixels, spec), theirs, atol=1e-5)
    odd = keras_hub.layers.ImageConverter(scale=[0.02, 0.01, 0.004], offset=-0.5)
    theirs = keras.ops.convert_to_numpy(odd(pixels))
    np.testing.assert_allclose(
        preprocess(pixels, from_image_converter(odd)), theirs, atol=1e-5
    )
