"""`train(deterministic=True)`: TensorFlow's deterministic ops for the run,
given back to the caller's setting afterwards.

Measured on CPU (see docs/training.md): with them, two runs with one seed
end with bitwise-equal weights, in one process or in two, at the default
thread counts; without them the weights of two such runs differ after one
epoch (the order of floating-point sums in multi-threaded kernels and
`tf.data`'s parallel maps). The epoch-seeded pipeline
(`load_data(epoch_seeded=True)`) makes a resumed run see the batches an
uninterrupted one would.
"""

import contextlib


@contextlib.contextmanager
def deterministic_ops(enabled):
    """Runs the block with TensorFlow's op determinism on when `enabled`
    (`tf.data` included, so also on the JAX backend, whose input pipeline
    is `tf.data`), restoring the previous setting on exit.

    Args:
        enabled: bool. Turn determinism on for the block.
    """
    if not enabled:
        yield
        return
    import tensorflow as tf

    # Only the switch on is public; the query and the switch off are the
    # same module's, which TensorFlow's own tests use.
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()
