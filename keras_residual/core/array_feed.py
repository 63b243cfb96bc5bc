"""NumPy arrays given to `fit` on TensorFlow, fed through a `tf.data`
dataset with tf.data's autotuning off.

Keras turns arrays into a `tf.data` pipeline with `map(num_parallel_calls=
AUTOTUNE)` and `prefetch(AUTOTUNE)`. On a 2-core CPU the autotuner stalled
the start of some epochs by about 9.5 s, for any model (docs/benchmarks.md,
"Through fit"), which hid a faster training step on short epochs. This
module builds the same batches (same order without shuffling, the same
validation split, sample weights and class weights left to Keras) from a
pipeline that never autotunes. Only plain numeric NumPy arrays of one length
are taken; anything else is left to Keras as it was given.
"""

import inspect
import math

import keras
import numpy as np

# Keras' default when `fit` is given arrays and no batch size.
DEFAULT_BATCH_SIZE = 32


def is_numeric_array(value):
    """Whether `value` is a NumPy array of numbers or booleans.

    Args:
        value: object. What `fit` received.
    """
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def plain_arrays(*values):
    """Whether the first value is a numeric array with a batch axis and every
    other one is None or a numeric array of the same length.

    Args:
        *values: objects. `(x, y, sample_weight)` as `fit` received them.
    """
    first = values[0]
    if not is_numeric_array(first) or first.ndim == 0:
        return False
    return all(
        value is None or (is_numeric_array(value) and len(value) == len(first))
        for value in values[1:]
    )


def as_floatx(array):
    """`array` with floats of another width cast to Keras' float type, as
    Keras' own array feeding does.

    Args:
        array: np.ndarray. A numeric array.
    """
    floatx = keras.config.floatx()
    if array.dtype.kind == "f" and array.dtype != np.dtype(floatx):
        return array.astype(floatx)
    return array


def split_validation(arrays, validation_split):
    """`(train, validation)` tuples of `arrays`: the last `validation_split`
    of the samples is the validation part, as Keras splits.

    Args:
        arrays: tuple of arrays or None. `(x, y, sample_weight)`.
        validation_split: float. The share held out, in (0, 1).
    """
    count = len(arrays[0])
    split_at = int(math.floor(count * (1.0 - validation_split)))
    if split_at in (0, count):
        raise ValueError(
            f"`validation_split={validation_split}` leaves no training or no "
            f"validation samples of the {count} given; use more samples or a "
            "split that keeps both."
        )
    train = tuple(None if a is None else a[:split_at] for a in arrays)
    validation = tuple(None if a is None else a[split_at:] for a in arrays)
    return train, validation


def steady_dataset(arrays, batch_size, shuffle):
    """A batched `tf.data` dataset of `arrays` with autotuning off.

    Args:
        arrays: tuple of arrays or None. `(x, y, sample_weight)`; the Nones
            are left out of each batch.
        batch_size: int. Samples per batch; the last batch may be smaller.
        shuffle: bool. Whether every pass draws a new order.
    """
    import tensorflow as tf

    tensors = tuple(tf.convert_to_tensor(as_floatx(a)) for a in arrays if a is not None)
    count = len(arrays[0])
    order = tf.data.Dataset.range(count)
    if shuffle:
        order = order.shuffle(count, reshuffle_each_iteration=True)

    def gather(indices):
        return tuple(tf.gather(tensor, indices) for tensor in tensors)

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    batches = order.batch(batch_size).map(gather).prefetch(1)
    return batches.with_options(options)


def steady_fit_arguments(arguments):
    """`fit`'s bound arguments with NumPy arrays replaced by steady datasets,
    on the TensorFlow backend; unchanged where Keras' own path must be kept
    (another backend, tensors, generators, `steps_per_epoch`, batch-wise
    shuffling or arrays of different lengths).

    Args:
        arguments: dict. `keras.Model.fit`'s arguments by name.
    """
    if keras.backend.backend() != "tensorflow":
        return arguments
    given = dict(arguments)
    train = tuple(given.get(name) for name in ("x", "y", "sample_weight"))
    shuffle = given.get("shuffle", True)
    batch_size = given.get("batch_size") or DEFAULT_BATCH_SIZE
    if (
        not plain_arrays(*train)
        or given.get("steps_per_epoch") is not None
        or not isinstance(shuffle, bool)
        or not isinstance(batch_size, int)
    ):
        return arguments
    validation = given.get("validation_data")
    validation_split = given.get("validation_split") or 0.0
    if validation_split and validation is None:
        train, validation = split_validation(train, validation_split)
    if (
        isinstance(validation, (tuple, list))
        and 1 <= len(validation) <= 3
        and plain_arrays(*validation)
    ):
        validation = steady_dataset(
            tuple(validation) + (None,) * (3 - len(validation)),
            given.get("validation_batch_size") or batch_size,
            shuffle=False,
        )
        given.pop("validation_batch_size", None)
    given.update(
        x=steady_dataset(train, batch_size, shuffle),
        y=None,
        sample_weight=None,
        batch_size=None,
        shuffle=False,  # the dataset shuffles; Keras warns if asked to
        validation_split=0.0,
        validation_data=validation,
    )
    return given


def bind_fit_arguments(method, args, kwargs):
    """`{name: value}` of a `fit(*args, **kwargs)` call, by `method`'s
    signature (without `self`).

    Args:
        method: function. The unbound `fit` whose signature names them.
        args: tuple. The positional arguments after `self`.
        kwargs: dict. The keyword arguments.
    """
    signature = inspect.signature(method)
    arguments = dict(signature.bind(None, *args, **kwargs).arguments)
    arguments.pop(next(iter(signature.parameters)))
    return arguments
