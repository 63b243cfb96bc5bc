"""A converged linear probe: the new classifier of a fine-tuning run fitted
on the frozen backbone's pooled features before the backbone trains (the
"LP" of Kumar et al. 2022's LP-FT). A classifier left random, or trained
for the few steps an epoch of a small data set gives, sends large random
gradients into the pretrained layers when they unfreeze; a fitted one does
not. The features are computed once, so the probe costs about one
inference pass over the training data."""

import dataclasses
import os

import keras
import numpy as np

from keras_residual.core.heads import head_outputs_logits
from keras_residual.training.losses import ClassificationCrossentropy
from keras_residual.utils.atomic import write_json
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

# Optimizer steps of the probe: enough for a softmax regression to settle.
PROBE_STEPS = 300
PROBE_BATCH = 256
PROBE_LEARNING_RATE = 0.01
# Augmented views of the training images the probe is fitted on: passes
# over a small training set until this many feature rows (at most
# `PROBE_MAX_PASSES`), so that a probe on a few dozen images is fitted to
# the variety of crops and flips the fine-tune will see, not to one view.
PROBE_MIN_FEATURES = 1024
PROBE_MAX_PASSES = 8
# `backbone_lr_ratio="auto"`: the backbone trains at the head's rate until
# the probe's chance-corrected validation accuracy passes this, then at a
# rate falling linearly to `MIN_AUTO_RATIO` when the features already
# classify every validation image.
AUTO_RATIO_FROM = 0.8
MIN_AUTO_RATIO = 0.1
# ... and with more labelled images the fall is slower: above this many
# training images per class, the share of the way from 0.1x back to 1x is
# multiplied by `images_per_class / FULL_FALL_IMAGES_PER_CLASS` (capped at
# 1x). A backbone fine-tuned on 30 images per class can learn what the
# features miss without forgetting them: across domains at k = 30,
# 0.25-0.5x left the default 1.1 points below a plain 1x fine-tune (#39).
FULL_FALL_IMAGES_PER_CLASS = 10


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What the linear probe measured.

    Args:
        train_accuracy: float. On the features it was fitted to.
        validation_accuracy: float or None. On the validation images (None
            without a validation split).
        classes: int. The classifier's classes.
        images_per_class: float or None. Training images per class (None
            where unknown). Defaults to `None`.
    """

    train_accuracy: float
    validation_accuracy: float = None
    classes: int = 2
    images_per_class: float = None

    @property
    def chance_corrected(self):
        """`(accuracy - 1/classes) / (1 - 1/classes)` on validation, in
        [0, 1] (0 is chance, 1 every image right), or None."""
        if self.validation_accuracy is None:
            return None
        chance = 1.0 / max(self.classes, 2)
        return min(max((self.validation_accuracy - chance) / (1 - chance), 0.0), 1.0)

    def backbone_ratio(self):
        """The phase-2 backbone rate for `backbone_lr_ratio="auto"`: 1 while
        the frozen features leave much to learn, falling to 0.1 as they
        already solve the task (fine-tuning them at full rate on a few
        images can then only lose what they know), more slowly the more
        images per class there are; 1 without validation."""
        quality = self.chance_corrected
        if quality is None or quality <= AUTO_RATIO_FROM:
            return 1.0
        share = (1.0 - quality) / (1.0 - AUTO_RATIO_FROM)
        share *= max(1.0, (self.images_per_class or 0) / FULL_FALL_IMAGES_PER_CLASS)
        return round(MIN_AUTO_RATIO + (1.0 - MIN_AUTO_RATIO) * min(share, 1.0), 3)


def pooled_features(model, dataset, steps):
    """The inputs of `model`'s classifier over `steps` batches of `dataset`,
    in inference mode (frozen BatchNorm statistics).

    Args:
        model: `keras.Model`. A model whose classifier is `predictions`.
        dataset: `tf.data.Dataset`. Batches of `(images, labels)` or
            `(images, labels, sample_weights)`.
        steps: int. Batches to read; -1 reads them all.

    Returns:
        `(features, labels, sample_weights)` as NumPy arrays.
    """
    classifier = model.get_layer(CLASSIFIER_LAYER)
    extractor = keras.Model(model.inputs[0], classifier.input, name="probe_features")
    features, labels, weights = [], [], []
    for batch in dataset.take(steps).as_numpy_iterator():
        images, batch_labels = batch[0], batch[1]
        features.append(np.asarray(extractor(images, training=False), "float32"))
        labels.append(batch_labels)
        weights.append(
            batch[2] if len(batch) > 2 else np.ones(len(batch_labels), "float32")
        )
    return np.concatenate(features), np.concatenate(labels), np.concatenate(weights)


def fit_linear_probe(
    model, dataset, steps, label_smoothing=0.0, validation=None, validation_steps=None
):
    """Fits `model`'s classifier (`predictions`) on its pooled features of
    one pass over `dataset` and writes the result into the classifier; the
    rest of the model is left as it is.

    Args:
        model: `keras.Model`. The model with its pretrained backbone.
        dataset: `tf.data.Dataset`. The training batches (augmented as
            training sees them).
        steps: int. Batches in one pass.
        label_smoothing: float. As the run's loss. Defaults to `0.0`.
        validation: `tf.data.Dataset` or None. Validation batches, scored
            with the fitted probe. Defaults to `None`.
        validation_steps: int or None. Validation batches to read; None
            reads them all. Defaults to `None`.

    Returns:
        A `ProbeResult`.
    """
    classifier = model.get_layer(CLASSIFIER_LAYER)
    features, labels, weights = pooled_features(model, dataset, steps)
    passes = min(PROBE_MAX_PASSES, -(-PROBE_MIN_FEATURES // max(len(features), 1)))
    if passes > 1:
        views = pooled_features(model, dataset.repeat(), steps * (passes - 1))
        features, labels, weights = (
            np.concatenate(pair) for pair in zip((features, labels, weights), views)
        )
    inputs = keras.Input((features.shape[-1],), name="probe_input")
    dense = keras.layers.Dense(
        classifier.units,
        activation=classifier.activation,
        name="probe_predictions",
        dtype="float32",
    )
    probe = keras.Model(inputs, dense(inputs), name="linear_probe")
    dense.set_weights([np.asarray(w) for w in classifier.get_weights()])
    batch = min(PROBE_BATCH, len(features))
    probe.compile(
        optimizer=keras.optimizers.Adam(PROBE_LEARNING_RATE),
        loss=ClassificationCrossentropy(
            from_logits=head_outputs_logits(model),
            label_smoothing=label_smoothing,
            reduction="mean_with_sample_weight",
        ),
        weighted_metrics=[],
    )
    import tensorflow as tf  # tf.data feeds every backend; loaded on use

    # One epoch of PROBE_STEPS batches from a reshuffled, repeated stream:
    # as many epochs of a few batches each cost Keras' per-epoch overhead
    # (300 epochs of one batch took 8 s of a 20 s fine-tune of 50 images).
    stream = (
        tf.data.Dataset.from_tensor_slices((features, labels, weights))
        .shuffle(len(features), seed=0, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch)
    )
    probe.fit(stream, steps_per_epoch=PROBE_STEPS, epochs=1, verbose=0)
    classifier.set_weights(dense.get_weights())
    train_accuracy = _accuracy(probe, features, labels, weights)
    validation_accuracy = None
    if validation is not None:
        held = pooled_features(model, validation, validation_steps or -1)
        validation_accuracy = _accuracy(probe, *held)
    return ProbeResult(train_accuracy, validation_accuracy, classifier.units)


def _accuracy(probe, features, labels, weights):
    predicted = np.argmax(probe.predict(features, batch_size=1024, verbose=0), -1)
    truth = labels if labels.ndim == 1 else np.argmax(labels, -1)
    return float(np.average(predicted == truth.reshape(-1), weights=weights))


def probe_and_choose_rate(network, data, recipe, steps, backup, run_dir):
    """Fits the linear probe before fine-tuning's phase 2 begins and
    returns `recipe` with the backbone rate it chooses (for
    `backbone_lr_ratio="auto"`). The result is kept in
    `run_dir/checkpoints/probe.json`, so a resumed phase 2 (which skips the
    probe: the classifier is in its checkpoint) trains at the same rate.

    Args:
        network: `keras.Model`. The model with its pretrained backbone.
        data: `DataBundle`. Its `train` and `validation` batches.
        recipe: `Recipe`. Its `label_smoothing` and `backbone_lr_ratio`.
        steps: int. Training batches per epoch.
        backup: `ResumableBackup`. Phase 2's backup (has it begun?).
        run_dir: str. The run directory.
    """
    path = os.path.join(run_dir, "checkpoints", "probe.json")
    if backup.read_state() is None:  # phase 2 not begun
        result = fit_linear_probe(
            network, data.train, steps, recipe.label_smoothing, data.validation
        )
        if (data.sizes or {}).get("train"):
            result = dataclasses.replace(
                result, images_per_class=data.sizes["train"] / max(data.classes, 1)
            )
        ratio = (
            result.backbone_ratio()
            if recipe.backbone_lr_ratio == "auto"
            else recipe.backbone_lr_ratio
        )
        record = {**dataclasses.asdict(result), "backbone_lr_ratio": ratio}
        write_json(path, record)
        held = result.validation_accuracy
        print(
            "Linear probe: the new classifier fitted on the frozen backbone "
            f"({result.train_accuracy:.1%} training"
            + ("" if held is None else f", {held:.1%} validation")
            + f" accuracy); the backbone trains at {ratio:g}x the head's rate.",
            flush=True,
        )
    else:
        record = read_probe_record(path)
    return recipe.replace(backbone_lr_ratio=record["backbone_lr_ratio"])


def read_probe_record(path):
    """A run's `probe.json`: what the linear probe measured and the
    backbone rate it chose.

    Args:
        path: str. The file.
    """
    try:
        record = read_json_file(path, "The linear probe's record", 1 << 20)
        ratio = float(record["backbone_lr_ratio"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Cannot resume phase 2: the linear probe's record {path!r} is "
            f"missing or unreadable ({type(error).__name__}). Start the run again."
        ) from None
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"{path!r} holds backbone_lr_ratio {ratio}, not in (0, 1].")
    return record
