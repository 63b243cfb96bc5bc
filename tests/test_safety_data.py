"""Bad data: NaN pixels, labels out of range, images that are corrupt, special,
too large or of unusual formats, and class weights that cannot apply. Each
test reproduces an attack or a finding that worked before its fix (the
hardening rounds of issues #15 and #40)."""

import os
import time

import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import small_digits
from tests.conftest import tiny_resnet
from tests.safety_helpers import _png_declaring
from tests.safety_helpers import deadline
from tests.safety_helpers import image_folder


def test_nan_pixels_are_refused_with_count_and_first_index():
    images, labels = small_digits()["train"]
    images = images.astype("float32")
    images[5, 3, 3] = np.nan
    images[9, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 image\(s\) with NaN.*index 5"):
        kr.load_data((images, labels), batch_size=8)


def test_one_class_datasets_are_refused(tmp_path):
    images, labels = small_digits()["train"]
    with pytest.raises(ValueError, match=r"has 1 class\(es\).*at least 2"):
        kr.load_data((images, np.zeros_like(labels)), batch_size=8)
    folder = tmp_path / "only_cats" / "cat"
    folder.mkdir(parents=True)
    from PIL import Image

    for index in range(20):
        Image.new("RGB", (8, 8), (index, 0, 0)).save(folder / f"{index}.png")
    with pytest.raises(ValueError, match=r"only_cats.*1 class\(es\) \(\['cat'\]\)"):
        kr.load_data(str(tmp_path / "only_cats"), batch_size=2, image_size=(8, 8))


def test_empty_arrays_and_string_labels_name_the_argument():
    images, labels = small_digits()["train"]
    with pytest.raises(ValueError, match=r"`images` has shape \(0,"):
        kr.load_data((images[:0], labels[:0]), batch_size=8)
    with pytest.raises(ValueError, match="`labels` must be non-negative integers"):
        kr.load_data((images, labels.astype(str)), batch_size=8)
    with pytest.raises(ValueError, match="`images` must be numeric"):
        kr.load_data((images.astype(str), labels), batch_size=8)


@pytest.mark.parametrize("huge", [2**32 + 1, 2**40, -(2**33)])
def test_labels_outside_int32_are_refused_not_wrapped(huge):
    """`astype("int32")` once turned 2**32 + 1 into 1 and 2**40 into 0."""
    images, labels = small_digits()["train"]
    labels = labels.astype("int64")
    labels[3] = huge
    message = rf"class indices in \[0, 2147483647\].*{huge}"
    with pytest.raises(ValueError, match=message):
        kr.load_data((images, labels), batch_size=8)


def test_one_hot_labels_are_read_as_classes_and_other_matrices_refused():
    images, labels = small_digits()["train"]
    one_hot = np.eye(10, dtype="float32")[labels]
    data = kr.load_data((images, one_hot), batch_size=len(labels), augment="none")
    data_ref = kr.load_data((images, labels), batch_size=len(labels), augment="none")
    assert data.classes == data_ref.classes == 10
    _, read = next(iter(data.train))
    _, expected = next(iter(data_ref.train))
    np.testing.assert_array_equal(np.sort(read), np.sort(expected))
    with pytest.raises(ValueError, match=r"has shape \(\d+, 10\): pass one class"):
        kr.load_data((images, one_hot * 0.5), batch_size=8)


def test_corrupt_images_are_named_up_front_or_skipped_on_request(tmp_path, capsys):
    folder = image_folder(tmp_path / "pets", corrupt=("a/broken.jpg", "b/bad.png"))
    with pytest.raises(ValueError, match=r"2 image file\(s\) that cannot be decoded"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    with pytest.raises(ValueError, match=r"(?s)broken\.jpg.*bad\.png"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    data = kr.load_data(
        str(folder), batch_size=4, image_size=(8, 8), skip_bad_images=True
    )
    assert "Skipping 2 of 26 image files" in capsys.readouterr().out
    total = sum(
        int(labels.shape[0])
        for split in (data.train, data.validation, data.test)
        for _, labels in split
    )
    assert total == 24  # every good image, none of the bad
    assert sorted(os.listdir(folder / "a")) == sorted(
        [f"{i}.jpg" for i in range(12)] + ["broken.jpg"]
    )  # the user's folder is untouched


def test_skipping_every_image_of_a_folder_or_class_names_the_users_folder(tmp_path):
    """Not the temporary folder of links the skipping reads through."""
    folder = image_folder(tmp_path / "pets", per_class=2)
    for path in (folder / "a").iterdir():
        path.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"pets'?: class folder 'a' has no image"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8),
                     skip_bad_images=True)  # fmt: skip
    for path in (folder / "b").iterdir():
        path.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"pets'?: none of its 4 image file"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8),
                     skip_bad_images=True)  # fmt: skip


def test_an_image_linked_to_dev_zero_or_a_fifo_is_named_not_read(tmp_path, capsys):
    """A link to /dev/zero once grew the process to 21 GB; a FIFO hung it."""
    folder = image_folder(tmp_path / "pets")
    os.symlink("/dev/zero", folder / "a" / "zero.png")
    os.mkfifo(folder / "b" / "pipe.png")
    with pytest.raises(ValueError, match=r"(?s)zero\.png: is a device.*/dev/zero"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    with pytest.raises(ValueError, match=r"pipe\.png: is a FIFO, not a regular"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    data = kr.load_data(
        str(folder), batch_size=4, image_size=(8, 8), skip_bad_images=True
    )
    assert "Skipping 2 of 26 image files" in capsys.readouterr().out
    assert data.sizes["train"] + data.sizes["validation"] + data.sizes["test"] == 24


@pytest.mark.parametrize("size", ["0", "100000"])
def test_image_size_zero_or_absurd_is_refused_not_replaced(tmp_path, capsys, size):
    """--image-size 0 once trained at 256 px; 100000 failed after 105 s."""

    from keras_residual.cli import main

    started = time.monotonic()
    out = str(tmp_path / "run")
    code = main(["train", "--epochs", "1", "--image-size", size, "--out", out])
    assert code == 2 and time.monotonic() - started < 30
    assert f"received {size}" in capsys.readouterr().err and not os.path.exists(out)


def test_labels_in_the_int32_range_but_past_the_class_limit_are_refused():
    import numpy as np

    images = np.zeros((40, 16, 16, 1), "uint8")
    for top in (10**7, 2**31 - 1):
        labels = np.arange(40) % 3
        labels[-1] = top
        with (
            deadline(),
            pytest.raises(ValueError, match="largest label.*over the limit"),
        ):
            kr.load_data((images, labels), batch_size=2)


def test_an_image_declaring_too_many_pixels_is_refused_unread(tmp_path):
    import numpy as np
    from PIL import Image

    from keras_residual.data.image_folder import scan_images
    from keras_residual.serving.predictor import read_images

    # Past Pillow's own bound (179 M pixels), and past ours only (67 M).
    for width, height, message in (
        (20000, 20000, "too many pixels"),
        (10000, 9000, "10000 x 9000 pixels, over the limit"),
    ):
        bomb = _png_declaring(str(tmp_path / f"{width}.png"), width, height)
        assert os.path.getsize(bomb) < 2 << 20
        with deadline(20), pytest.raises(ValueError, match=message):
            read_images([bomb], 1)
        failures, _, _ = scan_images([bomb])
        assert failures and message in failures[0][1]
    # A 4000 x 3000 photo still decodes.
    photo = str(tmp_path / "photo.jpg")
    Image.fromarray(np.zeros((3000, 4000, 3), "uint8")).save(photo)
    assert read_images([photo], 3)[0].shape == (3000, 4000, 3)
    assert scan_images([photo])[0] == []


def test_an_animation_whose_frames_together_are_too_many_pixels_is_refused(
    tmp_path,
):
    # TensorFlow decodes every frame of a GIF, each the canvas' size, before
    # keeping the first: 40 frames of 4000 x 4000 (a 0.5 MB file) took
    # 1.9 GB, 400 frames would take 19 GB.
    from PIL import Image

    from keras_residual.data.image_folder import scan_images
    from keras_residual.serving.predictor import read_images

    def animation(path, size, count):
        frames = [Image.new("L", (size, size), 255 * (i % 2)) for i in range(count)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=10)
        return str(path)

    bomb = animation(tmp_path / "bomb.gif", 4000, 6)
    assert os.path.getsize(bomb) < 2 << 20
    message = "an animation of over 4 frames of 4000 x 4000 pixels"
    with deadline(20), pytest.raises(ValueError, match=message):
        read_images([bomb], 1)
    failures, _, _ = scan_images([bomb])
    assert failures and message in failures[0][1]
    # An ordinary animation still decodes (its first frame).
    small = animation(tmp_path / "small.gif", 64, 30)
    assert read_images([small], 1)[0].shape == (64, 64, 1)


def test_class_weights_naming_a_class_twice_or_all_zero_are_refused():
    from keras_residual.data.balance import class_weights

    with pytest.raises(ValueError, match="names class 0 twice"):
        class_weights("0=1,0=2", [5, 5])
    with pytest.raises(ValueError, match="every class of the training data weight 0"):
        class_weights("0=0,1=0", [5, 5])
    with pytest.raises(ValueError, match="every class of the training data weight 0"):
        class_weights({0: 0.0}, [5, 0])  # class 1 has no examples to count
    # Ignoring one class of several is legitimate.
    assert class_weights("0=0", [5, 5]) == {0: 0.0, 1: 1.0}


def test_evaluate_names_a_model_with_too_few_classes_and_keeps_existing_reports(
    tmp_path,
):
    from keras_residual.serving.evaluation import evaluate_export

    model = tiny_resnet(input_shape=(32, 32, 1), classes=3, preprocessing="tf")
    path = str(tmp_path / "three.keras")
    model.save(path)  # no card: its class count is read from its outputs
    with pytest.raises(ValueError, match=r"outputs 3 classes; 'digits' has 10"):
        evaluate_export(path, "digits", verbose=0)
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text("my earlier report")
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        evaluate_export(path, "digits", verbose=0, report=str(report))
    assert (report / "report.json").read_text() == "my earlier report"


def test_sixteen_bit_image_arrays_are_refused_not_read_as_0_to_255():
    import numpy as np

    labels = np.arange(40) % 2
    wide = np.full((40, 16, 16, 1), 40000, "uint16")
    with pytest.raises(
        ValueError, match=r"dtype uint16 with values in \[40000, 40000\]"
    ):
        kr.load_data((wide, labels), batch_size=8)
    # uint16 arrays that hold 0-255 pixels read as they are.
    assert kr.load_data((wide // 257, labels), batch_size=8).classes == 2


def test_gif_bmp_and_cmyk_jpeg_files_decode_to_the_channels_asked(tmp_path):
    import numpy as np
    from PIL import Image

    from keras_residual.serving.predictor import read_images

    rng = np.random.default_rng(0)
    folder = tmp_path / "grey"
    for c in range(2):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((20, 20)) * 255).astype("uint8")
            suffix = ("png", "gif", "bmp")[i % 3]
            Image.fromarray(pixels).save(folder / f"class{c}" / f"{i}.{suffix}")
    data = kr.load_data(str(folder), batch_size=4, color_mode="grayscale")
    seen = sum(len(labels) for _, labels in data.train)  # a GIF once failed here
    assert seen == data.sizes["train"] and data.image_shape[-1] == 1
    colour = (rng.random((20, 20, 3)) * 255).astype("uint8")
    cmyk = str(tmp_path / "cmyk.jpg")
    Image.fromarray(colour).convert("CMYK").save(cmyk)
    gif = str(tmp_path / "colour.gif")
    Image.fromarray(colour).save(gif)
    for path in (cmyk, gif):
        for channels in (1, 3):
            assert read_images([path], channels)[0].shape == (20, 20, channels)
