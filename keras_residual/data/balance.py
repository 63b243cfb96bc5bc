"""Imbalanced classes: the training split's class counts, class weights
for `fit` (`"balanced"`: `n / (classes * n_c)`, as scikit-learn's), and a
sampler that draws every class equally often."""

import numpy as np

from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float

SAMPLERS = ("shuffle", "balanced")


def count_classes(labels, classes):
    """Examples per class.

    Args:
        labels: array-like of int, or an unbatched `tf.data.Dataset` of
            `(image, label)` (read once, with a progress bar).
        classes: int. Number of classes.

    Returns:
        A tuple of `classes` ints.
    """
    if hasattr(labels, "element_spec"):
        import keras

        progress = keras.utils.Progbar(None, unit_name="label")
        seen = []
        for batch in labels.map(lambda image, label: label).batch(1024):
            seen.append(batch.numpy().reshape(-1))
            progress.add(len(seen[-1]))
        labels = np.concatenate(seen) if seen else np.zeros(0, "int64")
    labels = np.asarray(labels).reshape(-1).astype("int64")
    return tuple(int(n) for n in np.bincount(labels, minlength=classes)[:classes])


def parse_class_weight(class_weight):
    """`class_weight` in its checked form: `"balanced"` or a dict of
    non-negative float weights by class index.

    Args:
        class_weight: `"balanced"`, a dict `{class index: weight}`, or a
            string `"0=1,3=2.5"` (the CLI's form).
    """
    if class_weight == "balanced":
        return class_weight
    if isinstance(class_weight, str):
        class_weight = _parse_weights(class_weight)
    if not isinstance(class_weight, dict):
        raise TypeError(
            "`class_weight` must be 'balanced', a dict {class index: weight} "
            f"or 'INDEX=WEIGHT,...'; received {type(class_weight).__name__}."
        )
    weights = {}
    for key, value in class_weight.items():
        if type(key) is not int or key < 0:
            raise ValueError(
                f"`class_weight` keys must be class indices (ints >= 0); "
                f"received {key!r}."
            )
        weights[key] = check_float(f"class_weight[{key}]", value, minimum=0.0)
    return weights


def class_weights(class_weight, counts):
    """The `class_weight` dict `fit` takes.

    Args:
        class_weight: `"balanced"` (`n / (classes * n_c)`), a dict
            `{class index: weight}` (classes left out weigh 1), or a
            string `"0=1,3=2.5"` (the CLI's form).
        counts: sequence of int. Training examples per class.

    Returns:
        `{class index: float weight}` for every class.
    """
    class_weight = parse_class_weight(class_weight)
    classes = len(counts)
    if class_weight == "balanced":
        total = sum(counts)
        present = sum(1 for n in counts if n)
        return {c: (total / (present * n) if n else 0.0) for c, n in enumerate(counts)}
    outside = sorted(key for key in class_weight if key >= classes)
    if outside:
        raise ValueError(
            f"`class_weight` keys must be class indices in [0, {classes}); "
            f"received {outside[0]!r}."
        )
    weights = {c: class_weight.get(c, 1.0) for c in range(classes)}
    if not any(weights[c] for c, n in enumerate(counts) if n):
        raise ValueError(
            f"`class_weight` {class_weight} gives every class of the training "
            "data weight 0, so no example would count; give one a weight "
            "above 0."
        )
    return weights


def _parse_weights(text):
    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        index, sep, value = part.partition("=")
        if not sep:
            raise ValueError(
                "`class_weight` must be 'balanced' or 'INDEX=WEIGHT,...' such "
                f"as '0=1,3=2.5'; received {text!r} (entry {part!r} has no '=')."
            )
        try:
            key, weight = int(index), float(value)
        except ValueError:
            raise ValueError(
                "`class_weight` must be 'balanced' or 'INDEX=WEIGHT,...' "
                f"such as '0=1,3=2.5'; received {text!r}."
            ) from None
        if key in weights:
            raise ValueError(
                f"`class_weight` names class {key} twice in {text!r}; give "
                "each class one weight."
            )
        weights[key] = weight
    return weights


def balanced_sample(dataset, counts, size, seed):
    """Draws every class equally often, minority classes repeating: each
    class's examples are shuffled and cycled, and the classes interleaved
    at random, `size` examples per pass.

    Args:
        dataset: `tf.data.Dataset`. Unbatched `(image, label)`.
        counts: sequence of int. Examples per class.
        size: int. Examples per pass (an epoch's worth).
        seed: int or int64 scalar tensor. Shuffle and draw seed.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    streams = [
        dataset.filter(lambda image, label, c=c: tf.equal(label, c))
        .shuffle(min(n, 4096), seed=seed + c, reshuffle_each_iteration=True)
        .repeat()
        for c, n in enumerate(counts)
        if n
    ]
    weights = [1.0 / len(streams)] * len(streams)
    return tf.data.Dataset.sample_from_datasets(
        streams, weights, seed=seed, rerandomize_each_iteration=True
    ).take(size)


def check_sampler(sampler):
    """Raises `ValueError` unless `sampler` is one of `SAMPLERS`.

    Args:
        sampler: str. `"shuffle"` or `"balanced"`.
    """
    check_choice("sampler", sampler, SAMPLERS)
    return sampler


def describe_balance(counts, names, sampler="shuffle", weights=None):
    """One line on the class counts a run saw (the total, the smallest and
    largest classes) and how it balances them.

    Args:
        counts: sequence of int. Examples per class.
        names: sequence of str. Class names.
        sampler: str. The sampler. Defaults to `"shuffle"`.
        weights: dict or None. `{class index: weight}` given to `fit`.
            Defaults to `None`.
    """
    low = min(range(len(counts)), key=lambda c: counts[c])
    high = max(range(len(counts)), key=lambda c: counts[c])
    parts = [
        f"{sum(counts)} training images in {len(counts)} classes, from "
        f"{counts[low]} ({names[low]}) to {counts[high]} ({names[high]})"
    ]
    if sampler != "shuffle":
        parts.append(f"sampler {sampler}")
    if weights:
        parts.append("class weights " + ", ".join(f"{w:.3g}" for w in weights.values()))
    return "; ".join(parts) + "."
