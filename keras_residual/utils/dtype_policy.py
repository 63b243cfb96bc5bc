"""Keras' global dtype policy, set for a block and put back after it."""

import contextlib

import keras


@contextlib.contextmanager
def global_dtype_policy(policy=None):
    """Sets Keras' global dtype policy inside the block and puts the
    caller's back on leaving it, even on an error.

    Args:
        policy: str or None. The policy inside the block; `None` keeps the
            current one (for code that sets its own). Defaults to `None`.
    """
    previous = keras.config.dtype_policy()
    if policy is not None:
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
