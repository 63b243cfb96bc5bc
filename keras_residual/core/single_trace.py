"""State built before the first training step is traced, so that TensorFlow
traces it once.

On TensorFlow without a distribution strategy, Keras 3 leaves the
optimizer's slots and the compiled metrics' variables to be created inside
the first trace of the train step. A `tf.function` that creates variables
while tracing is traced a second time, so every first `fit`,
`train_on_batch` or `evaluate` of a model paid for two traces of its step
(on a 2-core AMD EPYC, ResNet50's first-`fit` start-up at 64 px took 8.0 s
against 4.3 s with one trace, `python -m benchmarks first_fit`; a one-epoch
`kr.train` of a ResNet20, 12.2 s against 8.8 s). Keras already builds
that state symbolically, from the shapes of one batch, when a strategy is
set; this module does the same for the default
strategy, taking the shapes from the dataset's `element_spec` so no data
is read. Whatever this cannot build is left to Keras' own path.
"""

import keras


def dataset_element_spec(iterator):
    """The `element_spec` of the dataset behind a Keras TensorFlow epoch
    iterator, or None when it has none.

    Args:
        iterator: object. Keras' `TFEpochIterator` (or anything else).
    """
    dataset = getattr(iterator, "_distributed_dataset", None)
    return getattr(dataset, "element_spec", None)


def is_shaped(value):
    """Whether every leaf of `value` is None or has a shape and a dtype.

    Args:
        value: object. A batch, or the specs of one.
    """
    leaves = keras.tree.flatten(value)
    return bool(leaves) and all(
        leaf is None or (hasattr(leaf, "shape") and hasattr(leaf, "dtype"))
        for leaf in leaves
    )


def build_before_tracing(model, iterator=None, data_batch=None):
    """Builds `model`'s optimizer, metrics and loss state symbolically from
    the shapes of one batch (Keras' `_symbolic_build`), on TensorFlow with
    the default strategy; returns whether it did. When the shapes are
    unknown or the symbolic build fails, it returns False and Keras' own
    path (building while tracing) takes over, with its own errors.

    Args:
        model: keras.Model. The compiled model about to train or evaluate.
        iterator: object or None. Keras' epoch iterator. Defaults to None.
        data_batch: tuple or None. `(x, y, sample_weight)` of one batch.
            Defaults to None.
    """
    if keras.backend.backend() != "tensorflow":
        return False
    if getattr(model, "_distribute_strategy", None) is not None:
        return False
    symbolic_build = getattr(model, "_symbolic_build", None)
    batch = data_batch if iterator is None else dataset_element_spec(iterator)
    if symbolic_build is None or batch is None or not is_shaped(batch):
        return False
    try:
        symbolic_build(data_batch=batch)
    except Exception:  # Keras' path below builds while tracing instead
        return False
    return True
