"""Training augmentation beyond crop and flip (RandAugment, rotation,
colour jitter, random erasing), its presets, recipe fields and CLI flags,
and flip test-time augmentation."""

import json

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.cli import build_parser
from keras_residual.cli.options import overrides_from_args
from keras_residual.data.augmentation import AUGMENTATION_PRESETS
from keras_residual.data.augmentation import Augmentation
from keras_residual.serving.evaluation import evaluate_export
from tests.conftest import digits_resnet


def _first_batch(data):
    images, labels = next(iter(data.train))
    return keras.ops.convert_to_numpy(images), keras.ops.convert_to_numpy(labels)


def _pixels(images):
    return (images + 1.0) * 127.5  # undo the "tf" preprocessing


def _bright(n=32, size=16, channels=1):
    """Grey images that are 200 everywhere, labels 0..n-1 mod 4."""
    images = np.full((n, size, size, channels), 200, "uint8")
    return images, np.arange(n) % 4


def _load(images, labels, **kwargs):
    return kr.load_data(
        (images, labels),
        batch_size=len(labels),
        augment="none",
        validation_fraction=0.0,
        test_fraction=0.0,
        seed=1,
        **kwargs,
    )


def test_no_augmentation_leaves_the_images_as_they_are():
    images, labels = _bright()
    batch, _ = _first_batch(_load(images, labels))
    np.testing.assert_allclose(_pixels(batch), 200.0, atol=1e-3)


def test_rotation_turns_images_and_fills_the_corners_with_zeros():
    images, labels = _bright()
    batch, _ = _first_batch(_load(images, labels, augmentation={"rotation": 45}))
    pixels = _pixels(batch)
    corners = pixels[:, [0, 0, -1, -1], [0, -1, 0, -1], 0]
    # Most images turn by more than a few degrees, emptying their corners;
    # the centre stays.
    assert (corners.max(axis=1) < 100).mean() > 0.5
    np.testing.assert_allclose(pixels[:, 8, 8, 0], 200.0, atol=1.0)


def test_random_erasing_erases_a_rectangle_at_its_probability():
    images, labels = _bright(n=64)
    always, _ = _first_batch(
        _load(images, labels, augmentation={"random_erasing": 1.0})
    )
    changed = (np.abs(_pixels(always) - 200.0) > 1.0).reshape(64, -1)
    assert changed.any(axis=1).all()  # every image has an erased patch
    fraction = changed.mean(axis=1)
    assert fraction.max() < 0.5  # a rectangle of 2-33% of the image
    never, _ = _first_batch(_load(images, labels, augmentation={"random_erasing": 0.0}))
    np.testing.assert_allclose(_pixels(never), 200.0, atol=1e-3)


@pytest.mark.parametrize("channels", [1, 3])
def test_color_jitter_changes_brightness_per_image_grey_and_rgb(channels):
    images, labels = _bright(channels=channels)
    batch, _ = _first_batch(_load(images, labels, augmentation={"color_jitter": 0.4}))
    means = _pixels(batch).reshape(len(labels), -1).mean(axis=1)
    assert batch.shape == (len(labels), 16, 16, channels)
    assert np.ptp(means) > 10  # each image draws its own factor
    assert 0.0 <= _pixels(batch).min() and _pixels(batch).max() <= 255.0 + 1e-3


def test_rand_augment_draws_its_operations_per_image():
    digits = kr.data.load_digits_arrays()["train"]
    image = digits[0][:1]
    images = np.repeat(image, 32, axis=0)
    labels = np.arange(32) % 2
    plain, _ = _first_batch(_load(images, labels))
    augmented, _ = _first_batch(_load(images, labels, augmentation={"rand_augment": 2}))
    distinct = {np.round(a, 3).tobytes() for a in augmented}
    assert len(distinct) > 16
    assert not np.allclose(augmented, plain)


def test_augmentation_changes_only_training_batches():
    kwargs = dict(batch_size=64, seed=0)
    plain = kr.load_data("digits", **kwargs)
    heavy = kr.load_data("digits", augmentation="photo", **kwargs)
    for split in ("validation", "test"):
        a = next(iter(getattr(plain, split)))[0]
        b = next(iter(getattr(heavy, split)))[0]
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    train_a, labels_a = _first_batch(plain)
    train_b, labels_b = _first_batch(heavy)
    np.testing.assert_array_equal(labels_a, labels_b)  # same shuffle
    assert not np.allclose(train_a, train_b)
    assert heavy.augmentation == AUGMENTATION_PRESETS["photo"]


def test_recipe_fields_add_to_the_preset_and_are_checked():
    recipe = kr.get_recipe("fast", rotation=10.0, random_erasing=0.5)
    merged = recipe.augmentation("photo")
    photo = AUGMENTATION_PRESETS["photo"]
    assert merged.rand_augment == photo.rand_augment
    assert (merged.rotation, merged.random_erasing) == (10.0, 0.5)
    grey = AUGMENTATION_PRESETS["grey"].to_dict()
    assert recipe.data_kwargs("grey")["augmentation"] == Augmentation(
        **{**grey, "rotation": 10.0, "random_erasing": 0.5}
    )
    with pytest.raises(ValueError, match="rotation.*-5"):
        kr.get_recipe("fast", rotation=-5.0)
    with pytest.raises(ValueError, match="random_erasing"):
        kr.get_recipe("fast", random_erasing=1.5)
    with pytest.raises(ValueError, match="Did you mean 'grey'"):
        kr.load_data("digits", augmentation="gray")
    with pytest.raises(ValueError, match="Did you mean 'rotation'"):
        kr.load_data("digits", augmentation={"rotaton": 3})
    with pytest.raises(TypeError, match="preset name"):
        kr.load_data("digits", augmentation=3)


def test_the_cli_flags_set_the_recipe_fields():
    args = build_parser("train").parse_args(
        [
            "train",
            "--out",
            "unused",
            "--augmentation",
            "grey",
            "--rotation",
            "12",
            "--rand-augment",
            "1",
            "--rand-augment-magnitude",
            "0.3",
            "--color-jitter",
            "0.2",
            "--random-erasing",
            "0.1",
        ]
    )
    overrides = overrides_from_args(args, kr.Recipe)
    assert {k: overrides[k] for k in ("rotation", "rand_augment", "color_jitter")} == {
        "rotation": 12.0,
        "rand_augment": 1,
        "color_jitter": 0.2,
    }
    assert overrides["rand_augment_magnitude"] == 0.3
    assert overrides["random_erasing"] == 0.1
    assert args.augmentation == "grey"


def test_a_run_records_its_augmentation(tmp_path):
    result = kr.train(
        "ResNet20",
        "digits",
        tmp_path / "run",
        epochs=1,
        batch_size=128,
        augmentation="grey",
        recipe_overrides={"rotation": 8.0},
        model_overrides={"depths": (1, 1, 1)},
        export=False,
        tensorboard=False,
        verbose=0,
    )
    expected = {**AUGMENTATION_PRESETS["grey"].to_dict(), "rotation": 8.0}
    assert result.metrics["augmentation"] == expected
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    assert settings["augmentation"] == "grey"
    assert settings["recipe_overrides"] == {"rotation": 8.0}


@pytest.mark.jax
def test_augmentation_layers_run_in_the_pipeline_on_any_backend():
    parts = {"rand_augment": 1, "rotation": 10, "random_erasing": 0.5}
    plain = _first_batch(kr.load_data("digits", batch_size=32))[0]
    images, _ = _first_batch(kr.load_data("digits", batch_size=32, augmentation=parts))
    assert images.shape == plain.shape
    assert np.isfinite(images).all()
    assert -1.0 - 1e-5 <= images.min() and images.max() <= 1.0 + 1e-5
    assert not np.allclose(images, plain)


def test_flip_tta_averages_each_image_and_its_mirror(tmp_path):
    model = digits_resnet()
    path = tmp_path / "model.keras"
    model.save(path)
    data = kr.load_data("digits", batch_size=500, augment="none")
    images, labels = [keras.ops.convert_to_numpy(t) for t in next(iter(data.test))]
    plain = keras.ops.convert_to_numpy(model(images))
    mirrored = keras.ops.convert_to_numpy(model(images[:, :, ::-1]))
    mean = (plain + mirrored) / 2
    expected = float((mean.argmax(-1) == labels).mean())
    result = evaluate_export(str(path), "digits", batch_size=500, tta="flip", verbose=0)
    assert result["tta"] == "flip"
    assert result["accuracy"] == pytest.approx(expected, abs=1e-9)
    assert result["examples"] == len(labels)
    no_tta = evaluate_export(str(path), "digits", batch_size=500, verbose=0)
    assert no_tta["accuracy"] == pytest.approx(
        float((plain.argmax(-1) == labels).mean()), abs=1e-9
    )
    with pytest.raises(ValueError, match="tta"):
        evaluate_export(str(path), "digits", tta="flips")


def test_search_reads_data_as_train_does_with_the_recipes_augmentation():
    from keras_residual.search.run import _load

    recipe = kr.get_recipe("modern", rotation=5.0, mixup_alpha=0.2)
    data = _load("digits", kr.DataOptions(augmentation="photo"), recipe, seed=0)
    photo = AUGMENTATION_PRESETS["photo"]
    assert data.augmentation == Augmentation(
        **{**photo.to_dict(), "rotation": 5.0, "random_erasing": 0.25}
    )
    _, labels = _first_batch(data)
    assert labels.shape == (recipe.batch_size, 10)  # MixUp's one-hot labels
