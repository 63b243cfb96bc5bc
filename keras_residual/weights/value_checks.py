"""The checks every weights format's values get before they are assigned
(Keras and legacy HDF5, safetensors presets, timm and torchvision
checkpoints, keras-hub presets, trained `.keras` models): real numbers,
finite before and after the cast to the variable's dtype, floating-point
values for floating-point variables, BatchNorm variances not negative."""

import keras
import numpy as np


def check_finite(values, where):
    """Refuses tensors that are not real numbers (complex, strings, objects)
    and non-finite floating-point values.

    Args:
        values: array-like. A tensor (read in full).
        where: str. What it is, for the message.

    Raises:
        ValueError: naming the dtype, or with the count of NaN/inf values.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"`weights` {where} has dtype {array.dtype}; weights are real "
            "numbers (float, int or bool). Nothing was loaded."
        )
    if array.dtype.kind != "f" or array.size == 0:
        return
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(
            f"`weights` {where} holds {bad} non-finite value(s) (NaN or inf) "
            "of " + f"{array.size}: the file is corrupt. Nothing was loaded."
        )


def check_weight_value(variable_path, values, where):
    """`check_finite`, and a BatchNorm `moving_variance` may not be negative
    (every output of the layer would be NaN).

    Args:
        variable_path: str. The Keras variable it is for (`.../moving_variance`).
        values: array-like. The tensor.
        where: str. What it is, for the message.
    """
    check_finite(values, where)
    _check_variance(variable_path, np.asarray(values), where)


def _check_variance(variable_path, array, where):
    """A BatchNorm `moving_variance` may not be negative."""
    if variable_path.endswith("moving_variance") and array.size and array.min() < 0:
        raise ValueError(
            f"`weights` {where} is a BatchNorm variance with negative values "
            f"(minimum {float(array.min()):.4g}): the file is corrupt. Nothing "
            "was loaded."
        )


def checked_value(variable, values, where):
    """`values` as `variable` will hold them, after the checks every weights
    format gets: real numbers (`check_finite`); a floating-point variable
    takes floating-point values only (an integer or boolean tensor in its
    place is not a weight); still finite after the cast (float64 1e300
    becomes inf in float32); and a BatchNorm variance not negative.

    Args:
        variable: `keras.Variable`. Where the values go.
        values: array-like. The tensor from the file.
        where: str. What it is, for the message.

    Raises:
        ValueError: naming `where` and what is wrong; nothing is assigned.
    """
    array = np.asarray(values)
    check_finite(array, where)
    target = np.dtype(keras.backend.standardize_dtype(variable.dtype))
    if target.kind == "f" and array.dtype.kind != "f":
        raise ValueError(
            f"`weights` {where} has dtype {array.dtype}, and "
            f"{variable.path!r} holds {target} values: an integer or boolean "
            "tensor is not a weight here. Nothing was loaded."
        )
    cast = array.astype(target)
    if target.kind == "f" and cast.size and not np.isfinite(cast).all():
        raise ValueError(
            f"`weights` {where} has values beyond the range of {target} "
            f"(largest magnitude {float(np.abs(array).max()):.4g}): they "
            "would load as inf. Nothing was loaded."
        )
    _check_variance(variable.path, cast, where)  # finite: checked above
    return cast
