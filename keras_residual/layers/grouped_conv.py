"""Grouped convolutions (ResNeXt's 3x3) that train at native speed on
TensorFlow.

Keras 3 compiles every grouped convolution on TensorFlow with XLA
(`jit_compile=True`; its comment says grouped convolutions are broken on CPU
without it). With TensorFlow 2.21 the native kernel computes them correctly
(outputs and gradients equal a per-group split, tested), while XLA's CPU
gradient of a grouped convolution is pathologically slow: one 32-group
3x3 at 56x56 took 9.5 s forward and backward against 29 ms natively, and
ResNeXt-50 trained at 0.14 images/s (`benchmarks/families_training.py`).
These subclasses call `tf.nn.convolution` directly for grouped kernels on
TensorFlow, and the parent's code everywhere else (JAX included). Same
arguments, variables and config as `keras.layers.Conv2D` / `Conv1D`.

TensorFlow's CPU kernels have a grouped gradient only where oneDNN runs
them (on by default on Intel CPUs with AVX-512); elsewhere (an AMD EPYC,
say) the backward pass fails with "Gradients for grouped convolutions are
not supported on CPU". A one-off probe of a tiny grouped gradient decides:
where it fails, each group is convolved on its own slice of the channels
and the results are concatenated, which is the same computation (a
32-group 3x3 at 28x28x128, batch 8, forward and backward: 44 ms against
2.6 s through Keras' XLA path on a 2-core AMD EPYC).
"""

import functools

import keras


def _native_grouped_call(layer, inputs):
    """The layer's output through `tf.nn.convolution`, or None where the
    parent's code applies (another backend, no groups, channels first or
    causal padding)."""
    if (
        layer.groups == 1
        or keras.backend.backend() != "tensorflow"
        or layer.data_format != "channels_last"
        or layer.padding not in ("valid", "same")
    ):
        return None
    import tensorflow as tf

    convolve = functools.partial(
        tf.nn.convolution,
        strides=list(layer.strides),
        padding=layer.padding.upper(),
        dilations=list(layer.dilation_rate),
    )
    if native_grouped_gradients():
        outputs = convolve(inputs, layer.kernel)
    else:
        outputs = tf.concat(
            [
                convolve(piece, kernel)
                for piece, kernel in zip(
                    tf.split(inputs, layer.groups, axis=-1),
                    tf.split(layer.kernel, layer.groups, axis=-1),
                )
            ],
            axis=-1,
        )
    if layer.use_bias:
        outputs = outputs + keras.ops.cast(layer.bias, outputs.dtype)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


@functools.cache
def native_grouped_gradients():
    """Whether TensorFlow's kernel differentiates a grouped convolution on
    the default device: the input gradient of a 2-group 3x3 convolution,
    computed once per process (eagerly, even when first asked inside a
    trace)."""
    import tensorflow as tf

    with tf.init_scope():
        try:
            tf.raw_ops.Conv2DBackpropInput(
                input_sizes=[1, 3, 3, 4],
                filter=tf.ones((3, 3, 2, 4)),
                out_backprop=tf.ones((1, 3, 3, 4)),
                strides=[1, 1, 1, 1],
                padding="SAME",
            )
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            return False
    return True


class _NativeGroupedCall:
    """Runs grouped convolutions on TensorFlow's native kernel, and defers
    to the Keras convolution it is mixed into otherwise."""

    def call(self, inputs):
        native = _native_grouped_call(self, inputs)
        return super().call(inputs) if native is None else native


@keras.saving.register_keras_serializable(package="keras_residual")
class GroupedConv2D(_NativeGroupedCall, keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose grouped convolutions run TensorFlow's
    native kernel instead of XLA (see the module docstring)."""


@keras.saving.register_keras_serializable(package="keras_residual")
class GroupedConv1D(_NativeGroupedCall, keras.layers.Conv1D):
    """`keras.layers.Conv1D` whose grouped convolutions run TensorFlow's
    native kernel instead of XLA (see the module docstring)."""
