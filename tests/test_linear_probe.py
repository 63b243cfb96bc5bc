"""The linear probe of fine-tuning (LP-FT's first step): the new classifier
is fitted on the frozen backbone's features and nothing else changes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_residual as kr
from keras_residual.core.preprocessing import preprocess
from keras_residual.data import load_digits_arrays
from keras_residual.training.linear_probe import ProbeResult
from keras_residual.training.linear_probe import fit_linear_probe
from keras_residual.training.linear_probe import pooled_features
from tests.conftest import tiny_resnet


def _three_digits(per_class=20):
    images, labels = load_digits_arrays()["train"]
    picked = np.concatenate(
        [np.flatnonzero(labels == c)[:per_class] for c in (0, 1, 7)]
    )
    relabel = np.array([0, 1, -1, -1, -1, -1, -1, 2, -1, -1])
    return preprocess(images[picked].astype("float32"), "tf"), relabel[labels[picked]]


def _accuracy(model, images, labels):
    predicted = np.argmax(model.predict(images, verbose=0), -1)
    return float(np.mean(predicted == labels))


@pytest.mark.slow  # over ~6 s: out of the fast tier
def test_probe_fits_the_new_classifier_and_leaves_the_backbone_alone():
    images, labels = _three_digits()
    with pytest.warns(UserWarning, match="except the classifier"):
        model = kr.build("ResNet20", weights="digits", classes=3)
    before = {
        layer.name: [np.array(w) for w in layer.get_weights()]
        for layer in model.layers
        if layer.weights
    }
    assert _accuracy(model, images, labels) < 0.9  # a random classifier
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    result = fit_linear_probe(
        model, dataset, steps=4, label_smoothing=0.1, validation=dataset
    )
    assert result.train_accuracy >= 0.95 and result.validation_accuracy >= 0.95
    assert result.classes == 3
    # The model now classifies the 60 images (the probe saw them all).
    assert _accuracy(model, images, labels) >= 0.95
    for layer in model.layers:
        if layer.name == "predictions":
            assert not np.array_equal(layer.get_weights()[0], before[layer.name][0])
        elif layer.weights:  # BatchNorm statistics included
            for kept, now in zip(before[layer.name], layer.get_weights()):
                np.testing.assert_array_equal(kept, now)


def test_probe_reads_steps_batches_and_ignores_zero_weight_padding():
    images, labels = _three_digits(per_class=8)
    model = tiny_resnet(input_shape=(32, 32, 1), classes=3)
    weights = np.ones(len(labels), "float32")
    wrong = labels.copy()
    wrong[:4] = (labels[:4] + 1) % 3  # mislabelled, but padding (weight 0)
    weights[:4] = 0.0
    dataset = tf.data.Dataset.from_tensor_slices((images, wrong, weights)).batch(6)
    features, read_labels, read_weights = pooled_features(model, dataset, steps=3)
    assert features.shape == (18, 64) and read_labels.shape == (18,)
    np.testing.assert_array_equal(read_weights[:4], 0.0)
    # The accuracy it reports counts only the weighted images, scored
    # against their labels.
    result = fit_linear_probe(model, dataset, steps=4)
    predicted = np.argmax(model.predict(images, verbose=0), -1)
    expected = np.mean(predicted[4:24] == wrong[4:24])
    assert result.train_accuracy == pytest.approx(expected, abs=1e-6)
    assert result.validation_accuracy is None


def test_a_small_training_set_is_probed_on_several_augmented_views(monkeypatch):
    from keras_residual.training import linear_probe

    keras.utils.set_random_seed(0)  # as train() seeds a run: views still differ
    images, labels = _three_digits(per_class=4)  # 12 images, one batch
    data = kr.load_data(
        {"train": (images, labels), "test": (images, labels)},
        batch_size=32,
        augment="crop_flip",
        preprocessing="tf",
        validation_fraction=0.0,
    )
    model = tiny_resnet(input_shape=(32, 32, 1), classes=3)
    reads = []

    def counting(*args):
        reads.append(pooled_features(*args))
        return reads[-1]

    monkeypatch.setattr(linear_probe, "pooled_features", counting)
    fit_linear_probe(model, data.train, steps=1)
    rows = np.concatenate([features for features, _, _ in reads])
    read_labels = np.concatenate([read for _, read, _ in reads])
    # Passes until 1024 rows, at most 8: 8 views of each of the 12 images
    # (in a new order and with new crops each pass), not one view 8 times.
    assert len(rows) == 12 * linear_probe.PROBE_MAX_PASSES
    assert np.bincount(read_labels).tolist() == [32, 32, 32]
    assert len(np.unique(rows.round(5), axis=0)) > 12


@pytest.mark.parametrize(
    "accuracy, classes, images_per_class, ratio",
    [
        (None, 3, None, 1.0),  # no validation split: one rate
        (0.2, 10, None, 1.0),  # another domain's features (corrected 0.11)
        (0.76, 5, None, 1.0),  # corrected 0.70: much left to learn
        (0.84, 5, None, 1.0),  # corrected exactly 0.80, the threshold
        (0.92, 5, None, 0.55),  # corrected 0.90: halfway from 0.8 to 1
        (1.0, 3, None, 0.1),  # the features already solve the task
        # With more images per class the fall is slower, above 10:
        (0.92, 5, 5, 0.55),  # 5 per class: as without a count
        (0.92, 5, 10, 0.55),  # 10 per class: the same
        (0.96, 5, 30, 0.775),  # share 0.25 x 3: 0.1 + 0.9 x 0.75
        (0.92, 5, 30, 1.0),  # share 0.5 x 3, capped at 1x
        (1.0, 3, 27, 0.1),  # a probe with nothing to learn stays at 0.1x
    ],
)
def test_auto_backbone_ratio_follows_the_probe_and_the_images_per_class(
    accuracy, classes, images_per_class, ratio
):
    result = ProbeResult(1.0, accuracy, classes, images_per_class)
    assert result.backbone_ratio() == pytest.approx(ratio, abs=1e-3)


def test_linear_probe_and_the_auto_ratio_are_checked_recipe_fields():
    recipe = kr.get_recipe("finetune")
    assert recipe.linear_probe is True and recipe.backbone_lr_ratio == "auto"
    assert kr.get_recipe("fast").linear_probe is False
    with pytest.raises(TypeError, match="linear_probe"):
        kr.get_recipe("finetune", linear_probe="yes")
    with pytest.raises(ValueError, match="'auto'.*set linear_probe=True"):
        kr.get_recipe("finetune", linear_probe=False)
    with pytest.raises(ValueError, match="backbone_lr_ratio"):
        kr.get_recipe("finetune", backbone_lr_ratio="half")
