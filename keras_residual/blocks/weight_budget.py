"""`WeightBudget`: the weights a model under construction may still create,
charged layer by layer before each layer allocates its variables, so that a
config whose one kernel would take gigabytes (a 14,000-channel 3x3 conv, a
classifier of 850,000 classes) is refused before the memory is taken, not
after."""

import math


class WeightBudget:
    """Counts the weights of the layers a model build creates and refuses
    the layer that would take the total past `limit`.

    Args:
        limit: int or None. The most weights the model may hold; None
            counts without a limit. Defaults to `None`.
    """

    def __init__(self, limit=None):
        self.limit = limit
        self.spent = 0

    def charge(self, shape, layer):
        """Adds the weights of a variable of `shape` that `layer` is about
        to create; raises `ValueError` (naming the layer, the shape and the
        limit) when the total would pass the limit.

        Args:
            shape: tuple of int. The variable's shape.
            layer: str. The layer's name.
        """
        count = math.prod(int(d) for d in shape)
        total = self.spent + count
        if self.limit is not None and total > self.limit:
            raise ValueError(
                f"Layer {layer!r} (a {tuple(shape)} kernel, {count:.3g} "
                f"weights, {4 * count / 2**30:.3g} GiB in float32) takes the "
                f"model to {total:.3g} weights, over the limit of "
                f"{self.limit:.3g}; such a model does not fit in memory. If "
                "you mean it, raise "
                "keras_residual.core.spec.LIMITS['weights']."
            )
        self.spent = total


def conv_kernel_shape(kernel_size, rank, in_channels, filters, groups=1):
    """The kernel shape of a `rank`-D convolution.

    Args:
        kernel_size: int. Along every spatial axis.
        rank: int. 1 or 2.
        in_channels: int. Input channels.
        filters: int. Output channels.
        groups: int. Grouped convolution's groups. Defaults to `1`.
    """
    return (kernel_size,) * rank + (in_channels // max(groups, 1), filters)
