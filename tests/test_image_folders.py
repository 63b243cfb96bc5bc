"""Image folders as users keep them: grey or RGB (`color_mode`), a flat
folder of classes split into train/validation/test with stated fractions
and seed, or train/ val/ test/ sub-folders; the image size of the model or
the weights; weights of another channel count adapted both ways; and
`evaluate --split all`."""

import json
import os

import numpy as np
import pytest
from PIL import Image

import keras_residual as kr
from keras_residual.data import load_data
from keras_residual.data import load_digits_arrays
from tests.conftest import run_cli_here


def write_digit_folder(root, classes=(0, 1, 7), per_class=20, rgb=False, size=32):
    """Real embedded digits as PNG files in one sub-folder per class."""
    images, labels = load_digits_arrays()["train"]
    for digit in classes:
        folder = root / f"digit_{digit}"
        folder.mkdir(parents=True)
        for i, image in enumerate(images[labels == digit][:per_class]):
            picture = Image.fromarray(image[..., 0].astype("uint8"))
            if size != 32:
                picture = picture.resize((size, size))
            (picture.convert("RGB") if rgb else picture).save(folder / f"{i}.png")
    return root


def test_a_flat_folder_is_split_per_class_with_stated_fractions_and_seed(tmp_path):
    folder = write_digit_folder(tmp_path / "flat")
    data = load_data(str(folder), batch_size=8, seed=4)
    # 20 images per class: 2 for test, 2 for validation, 16 for training.
    assert data.sizes == {"train": 48, "validation": 6, "test": 6}
    assert data.image_shape == (32, 32, 1)  # all grey, all 32x32
    assert data.class_names == ("digit_0", "digit_1", "digit_7")
    labels = np.concatenate([y.numpy() for _, y in data.test])
    assert np.bincount(labels).tolist() == [2, 2, 2]

    def test_pixels(bundle):
        return sorted(x.numpy().tobytes() for batch, _ in bundle.test for x in batch)

    again = load_data(str(folder), batch_size=8, seed=4)
    other = load_data(str(folder), batch_size=8, seed=5)
    assert test_pixels(again) == test_pixels(data)
    assert test_pixels(other) != test_pixels(data)
    wider = load_data(str(folder), validation_fraction=0.25, test_fraction=0.25)
    assert wider.sizes == {"train": 30, "validation": 15, "test": 15}
    with pytest.raises(ValueError, match=r"together must leave training data"):
        load_data(str(folder), validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"'digit_0'.*no training file"):
        load_data(str(folder), validation_fraction=0.5, test_fraction=0.48)


def test_train_val_test_folders_and_color_modes(tmp_path):
    for split, count in (("train", 10), ("val", 3), ("test", 4)):
        write_digit_folder(tmp_path / "split" / split, per_class=count, rgb=True)
    data = load_data(str(tmp_path / "split"), batch_size=4)
    assert data.sizes == {"train": 30, "validation": 9, "test": 12}
    assert data.image_shape == (32, 32, 1)  # RGB files with equal channels
    rgb = load_data(str(tmp_path / "split"), color_mode="rgb")
    assert rgb.image_shape == (32, 32, 3)
    colourful = tmp_path / "colour" / "a"
    colourful.mkdir(parents=True)
    (tmp_path / "colour" / "b").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        for name in ("a", "b"):
            pixels = rng.integers(0, 255, (20, 20, 3)).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "colour" / name / f"{i}.png")
    assert load_data(str(tmp_path / "colour")).image_shape == (20, 20, 3)
    assert load_data(str(tmp_path / "colour"), color_mode="grayscale").image_shape == (
        20,
        20,
        1,
    )
    with pytest.raises(ValueError, match=r"color_mode.*'greyscale'.*grayscale"):
        load_data(str(tmp_path / "colour"), color_mode="greyscale")


def test_image_size_is_the_models_and_never_a_silent_default(tmp_path, capsys):
    folder = tmp_path / "mixed"
    write_digit_folder(folder / "small", classes=(0, 1), per_class=6, size=24)
    write_digit_folder(folder / "large", classes=(7,), per_class=6, size=40)
    # The classes: digit_0 and digit_1 live under small/, digit_7 under large/.
    with pytest.raises(ValueError, match=r"vary in size.*image_size"):
        load_data(str(folder / "small" / ".."), validation_fraction=0.0)
    data = load_data(str(folder), default_image_size=32, test_fraction=0.0)
    assert data.image_shape == (32, 32, 1)
    assert "resized to 32x32 (the model's or weights' size)" in capsys.readouterr().out


def test_grey_weights_adapt_to_rgb_inputs():
    grey = kr.ResNet20(weights="digits")
    with pytest.warns(UserWarning, match=r"grey \(1-channel\).*3 input channel"):
        rgb = kr.ResNet20(weights="digits", input_shape=(32, 32, 3))
    g = np.random.default_rng(1).uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(
        rgb.predict(np.repeat(g, 3, axis=-1), verbose=0),
        grey.predict(g, verbose=0),
        atol=1e-5,
    )
    assert rgb.class_names == grey.class_names


@pytest.mark.slow  # two fine-tuning runs and an evaluation
def test_fine_tuning_shipped_weights_on_grey_and_rgb_folders(tmp_path):
    grey = write_digit_folder(tmp_path / "grey", per_class=12)
    rgb = write_digit_folder(tmp_path / "rgb", per_class=12, rgb=True, size=48)
    common = ["--epochs", "2", "--head-epochs", "1", "--verbose", "0"]
    done = run_cli_here(
        "train", "--model", "ResNet20", "--weights", "digits", "--dataset",
        str(grey), "--out", str(tmp_path / "run_grey"), *common,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 classes, grayscale" in done.stdout
    metrics = json.load(open(tmp_path / "run_grey" / "metrics.json"))
    assert metrics["image_shape"] == [32, 32, 1]
    assert metrics["class_names"] == ["digit_0", "digit_1", "digit_7"]
    # RGB images (48 px), from the grey run: its weights adapt to 3 channels,
    # the images are resized to the size the weights were trained at.
    done = run_cli_here(
        "train", "--model", "ResNet20", "--weights", str(tmp_path / "run_grey"),
        "--dataset", str(rgb), "--color-mode", "rgb", "--out",
        str(tmp_path / "run_rgb"), *common,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # The message names where the size came from (not `image_size`, which
    # the user did not pass).
    assert "resized to 32x32 (the model's or weights' size)" in done.stdout
    assert "3 classes, rgb" in done.stdout
    metrics = json.load(open(tmp_path / "run_rgb" / "metrics.json"))
    assert metrics["image_shape"] == [32, 32, 3]
    done = run_cli_here(
        "evaluate", str(tmp_path / "run_rgb" / "saved_model"), "--dataset",
        str(rgb), "--split", "all",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "all (36 images)" in done.stdout
    assert os.path.isfile(tmp_path / "run_rgb" / "model.keras")


def test_the_pillow_decoder_gives_tensorflows_values(tmp_path):
    # `predict` on an .onnx model decodes with Pillow (no TensorFlow):
    # exactly TensorFlow's values for PNG, BMP and GIF, grey or RGB; a
    # JPEG within a few levels (another decoder).
    from PIL import Image

    from keras_residual.serving.predictor import read_images

    rng = np.random.default_rng(0)
    rgb = (rng.random((21, 33, 3)) * 255).astype("uint8")
    smooth = np.clip(np.cumsum(rng.normal(0, 8, (24, 40, 3)), 1) + 128, 0, 255)
    files = {
        "a.png": Image.fromarray(rgb),
        "b.png": Image.fromarray(rgb[..., 0]),
        "c.bmp": Image.fromarray(rgb),
        "d.gif": Image.fromarray(rgb).convert("P"),
        "e.jpg": Image.fromarray(smooth.astype("uint8")),
    }
    for name, image in files.items():
        path = str(tmp_path / name)
        image.save(path)
        for channels in (1, 3):
            ours = read_images([path], channels, decoder="pillow")[0]
            theirs = read_images([path], channels)[0]
            assert ours.shape == theirs.shape and ours.dtype == np.uint8
            difference = np.abs(ours.astype(int) - theirs.astype(int)).max()
            assert difference <= (8 if name.endswith(".jpg") else 0), (name, channels)
