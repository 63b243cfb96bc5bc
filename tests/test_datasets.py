"""load_data: the embedded digits, arrays, directories and TFDS (offline)."""

import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_residual.data import load_data
from keras_residual.data import load_digits_arrays


def test_embedded_digits_are_sklearns_digits_in_a_fixed_stratified_split():
    from sklearn.datasets import load_digits

    reference = load_digits()
    arrays = load_digits_arrays()
    assert {k: len(v[1]) for k, v in arrays.items()} == {
        "train": 1259,
        "validation": 179,
        "test": 359,
    }
    labels = np.concatenate([arrays[k][1] for k in arrays])
    assert np.array_equal(np.bincount(labels), np.bincount(reference.target))
    for split in arrays.values():
        assert split[0].shape[1:] == (32, 32, 1)
        assert 0.0 <= split[0].min() and split[0].max() <= 255.0
    # Each class contributes ~20% of its images to the test split.
    share = np.bincount(arrays["test"][1]) / np.bincount(reference.target)
    assert np.all(np.abs(share - 0.2) < 0.02)
    # The images are the real digits: each downsampled test image correlates
    # best with an sklearn original (r > 0.95) that carries the same label.
    small = tf.image.resize(arrays["test"][0][:60], (8, 8), "area").numpy()
    correlation = (
        _standardize(small.reshape(60, -1))
        @ _standardize(reference.images.reshape(len(reference.images), -1)).T
    )
    assert correlation.max(axis=1).min() > 0.95
    assert np.array_equal(
        reference.target[correlation.argmax(axis=1)], arrays["test"][1][:60]
    )


def _standardize(rows):
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_digits_pipeline_batches_scales_and_does_not_flip():
    data = load_data("digits", batch_size=50)
    assert data.classes == 10 and data.image_shape == (32, 32, 1)
    assert data.augment == "crop" and data.steps_per_epoch == 26
    images, labels = next(iter(data.test))
    assert images.shape == (50, 32, 32, 1) and labels.dtype == tf.int32
    assert images.numpy().min() == -1.0 and images.numpy().max() <= 1.0
    total = sum(int(batch[1].shape[0]) for batch in data.validation)
    assert total == 179


def _shifted_matches(out, padded, size):
    return [
        (i, j)
        for i in range(padded.shape[0] - size + 1)
        for j in range(padded.shape[1] - size + 1)
        if np.array_equal(out, padded[i : i + size, j : j + size])
    ]


@pytest.mark.parametrize("augment", ["crop", "crop_flip"])
def test_augmentation_is_pad_and_crop_plus_optional_flip(augment):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 16, 1)).astype("float32")
    x = np.repeat(image[None], 64, axis=0)
    data = load_data(
        {"train": (x, np.zeros(64, "int32"))},
        batch_size=64,
        augment=augment,
        classes=2,
        validation_fraction=0.0,
    )
    batch = (next(iter(data.train))[0].numpy() + 1.0) * 127.5
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    flipped = padded[:, ::-1]
    plain = sum(bool(_shifted_matches(np.round(b), padded, 16)) for b in batch)
    mirrored = sum(bool(_shifted_matches(np.round(b), flipped, 16)) for b in batch)
    assert plain + mirrored >= 64
    if augment == "crop":
        assert plain == 64
    else:
        assert 10 < mirrored < 54


def test_array_labels_out_of_range_and_bad_shapes_are_refused():
    x = np.zeros((10, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match=r"Labels out of range.*label 7.*5"):
        load_data((x, np.arange(10) % 8), classes=5)
    with pytest.raises(ValueError, match=r"1 or 3 channels.*\(10, 8, 8, 2\)"):
        load_data((np.zeros((10, 8, 8, 2)), np.zeros(10, "int32")))
    with pytest.raises(ValueError, match=r"10 images but 9 labels"):
        load_data((x, np.zeros(9, "int32")))
    with pytest.raises(ValueError, match=r"mixup_alpha.*label_mode='categorical'"):
        load_data("digits", mixup_alpha=0.2)


def test_mixup_and_cutmix_mix_one_hot_training_labels_only():
    data = load_data(
        "digits",
        batch_size=32,
        label_mode="categorical",
        mixup_alpha=0.4,
        cutmix_alpha=1.0,
    )
    _, labels = next(iter(data.train))
    labels = labels.numpy()
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
    assert (labels.max(axis=1) < 0.999).any()
    _, test_labels = next(iter(data.test))
    assert set(np.unique(test_labels.numpy())) <= {0.0, 1.0}


def test_uniform_batches_pad_evaluation_with_zero_weights():
    data = load_data("digits", batch_size=64, uniform_batches=True)
    sizes = [int(x.shape[0]) for x, _ in data.train]
    assert set(sizes) == {64} and len(sizes) == 1259 // 64
    weights = np.concatenate([w.numpy() for _, _, w in data.test])
    assert len(weights) % 64 == 0 and weights.sum() == 359


def test_image_directory_source(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for name in ("cat", "dog", "owl"):
        (tmp_path / name).mkdir()
        for i in range(5):
            pixels = rng.integers(0, 255, (20, 24, 3)).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    data = load_data(
        str(tmp_path), image_size=16, batch_size=4, validation_fraction=0.2
    )
    assert data.class_names == ("cat", "dog", "owl") and data.classes == 3
    assert data.image_shape == (16, 16, 3)
    assert data.sizes == {"train": 12, "validation": 3}
    images, labels = next(iter(data.train))
    assert images.shape[1:] == (16, 16, 3) and int(tf.reduce_max(labels)) < 3


def test_tfds_dataset_through_tfds_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=24):
        data = load_data("mnist", data_dir=str(tmp_path), batch_size=8)
        images, labels = next(iter(data.train))
    assert data.source == "tfds:mnist" and data.classes == 10
    assert data.image_shape == (28, 28, 1) and data.augment == "crop_flip"
    assert images.shape == (8, 28, 28, 1) and labels.dtype == tf.int32
    assert data.test is not None and data.validation is not None


def test_unprepared_tfds_dataset_fails_fast_with_instructions(tmp_path):
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        load_data("mnist", data_dir=str(tmp_path))
    assert time.perf_counter() - started < 30
    message = str(error.value)
    assert "not prepared" in message and "tfds build mnist" in message
    assert "--data-dir" in message and "--download" in message


def test_unknown_dataset_lists_embedded_ones_and_close_matches():
    with pytest.raises(ValueError) as error:
        load_data("mnsit")
    message = str(error.value)
    assert "'mnist'" in message and "digits" in message and "tfds" in message
