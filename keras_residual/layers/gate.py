"""The gated update of a highway layer (Srivastava et al. 2015)."""

import keras


@keras.saving.register_keras_serializable(package="keras_residual")
class HighwayGate(keras.layers.Layer):
    """The gated update `T * (H - x)` of a highway layer.

    Adding it to the carry `x` gives `H·T + x·(1 − T)`; keeping it separate
    lets stochastic depth drop the update like a residual branch.
    Inputs: `[transform H, gate T, carry x]`, all of one shape.
    """

    def call(self, inputs):
        transform, gate, carry = inputs
        return gate * (transform - carry)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]
