"""Token layers of Vision Transformers and hybrids: the class token, learned
position embeddings (resampled when the grid differs from the one they were
trained at), LayerScale, and the views heads and taps take of a token
sequence (the class token, the average of the other tokens, the tokens as
a grid)."""

import math

import keras
from keras import ops

from keras_residual.utils.validation import check_int


def _grid(argument, grid):
    """A grid `(height, width)` or `(length,)` of positive ints."""
    if not isinstance(grid, (list, tuple)) or not 1 <= len(grid) <= 2:
        raise TypeError(
            f"`{argument}` must be a tuple (height, width) or (length,); "
            f"received {grid!r}."
        )
    return tuple(check_int(argument, size, minimum=1) for size in grid)


@keras.saving.register_keras_serializable(package="keras_residual")
class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to a `(batch, tokens, dim)` sequence
    (timm's `cls_token`, initialised with std 1e-6)."""

    def build(self, input_shape):
        self.token = self.add_weight(
            (1, 1, input_shape[-1]),
            keras.initializers.RandomNormal(stddev=1e-6),
            name="token",
        )

    def call(self, inputs):
        token = ops.cast(self.token, inputs.dtype)
        token = ops.broadcast_to(token, (ops.shape(inputs)[0], 1, inputs.shape[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[-1])


@keras.saving.register_keras_serializable(package="keras_residual")
class PositionEmbedding(keras.layers.Layer):
    """Adds learned position embeddings to `prefix_tokens` + a grid of
    tokens. The variable holds `weights_grid` (the grid at the model's
    default size, so weight files load at any input size); where the
    input's `grid` differs, the grid part is resampled bicubically, as
    timm's `resample_abs_pos_embed`.

    Args:
        grid: tuple of int. The input's token grid, `(height, width)` or
            `(length,)`.
        weights_grid: tuple of int or None. The grid the embeddings are
            stored at. Defaults to `grid`.
        prefix_tokens: int. Tokens before the grid (1 with a class token).
            Defaults to `0`.
    """

    def __init__(self, grid, weights_grid=None, prefix_tokens=0, **kwargs):
        super().__init__(**kwargs)
        self.grid = _grid("grid", grid)
        self.weights_grid = _grid("weights_grid", weights_grid or grid)
        if len(self.weights_grid) != len(self.grid):
            raise ValueError(
                f"`weights_grid` {self.weights_grid} and `grid` {self.grid} "
                "must have as many axes."
            )
        self.prefix_tokens = check_int("prefix_tokens", prefix_tokens, minimum=0)

    def build(self, input_shape):
        tokens = self.prefix_tokens + math.prod(self.weights_grid)
        self.embeddings = self.add_weight(
            (1, tokens, input_shape[-1]),
            keras.initializers.TruncatedNormal(stddev=0.02),
            name="embeddings",
        )

    def resampled(self):
        """The embeddings at `grid`: the stored ones, or their grid part
        resized bicubically."""
        embeddings = self.embeddings
        if self.grid == self.weights_grid:
            return embeddings
        dim = embeddings.shape[-1]
        prefix = embeddings[:, : self.prefix_tokens]
        stored = (*self.weights_grid, 1)[:2]
        target = (*self.grid, 1)[:2]
        grid = ops.reshape(embeddings[:, self.prefix_tokens :], (1, *stored, dim))
        grid = ops.image.resize(
            grid, target, interpolation="bicubic", data_format="channels_last"
        )
        grid = ops.reshape(grid, (1, target[0] * target[1], dim))
        return ops.concatenate([prefix, grid], axis=1)

    def call(self, inputs):
        return inputs + ops.cast(self.resampled(), inputs.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "grid": list(self.grid),
            "weights_grid": list(self.weights_grid),
            "prefix_tokens": self.prefix_tokens,
        }


@keras.saving.register_keras_serializable(package="keras_residual")
class LayerScale(keras.layers.Layer):
    """Multiplies by a learned per-channel scale (Touvron et al. 2021,
    CaiT), initialised to `init_value`.

    Args:
        init_value: float. The scale's initial value. Defaults to `1e-5`.
    """

    def __init__(self, init_value=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            (input_shape[-1],),
            keras.initializers.Constant(self.init_value),
            name="gamma",
        )

    def call(self, inputs):
        return inputs * ops.cast(self.gamma, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package="keras_residual")
class TokenPooling(keras.layers.Layer):
    """Pools a `(batch, tokens, dim)` sequence into `(batch, dim)`: the
    class token (`mode="token"`, the first token) or the average of the
    tokens after the `prefix_tokens` (`mode="avg"`).

    Args:
        mode: str. `"token"` or `"avg"`. Defaults to `"token"`.
        prefix_tokens: int. Tokens an average skips. Defaults to `0`.
    """

    def __init__(self, mode="token", prefix_tokens=0, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("token", "avg"):
            raise ValueError(
                f"TokenPooling `mode` must be 'token' or 'avg'; received {mode!r}."
            )
        self.mode = mode
        self.prefix_tokens = check_int("prefix_tokens", prefix_tokens, minimum=0)

    def call(self, inputs):
        if self.mode == "token":
            return inputs[:, 0]
        return ops.mean(inputs[:, self.prefix_tokens :], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "prefix_tokens": self.prefix_tokens,
        }


@keras.saving.register_keras_serializable(package="keras_residual")
class TokensToGrid(keras.layers.Layer):
    """Drops the `prefix_tokens` and lays the other tokens out on their
    grid, `(batch, height, width, dim)` (timm's `forward_intermediates`).

    Args:
        grid: tuple of int. `(height, width)` or `(length,)`.
        prefix_tokens: int. Tokens before the grid. Defaults to `0`.
    """

    def __init__(self, grid, prefix_tokens=0, **kwargs):
        super().__init__(**kwargs)
        self.grid = _grid("grid", grid)
        self.prefix_tokens = check_int("prefix_tokens", prefix_tokens, minimum=0)

    def call(self, inputs):
        tokens = inputs[:, self.prefix_tokens :]
        return ops.reshape(tokens, (-1, *self.grid, inputs.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.grid, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "grid": list(self.grid),
            "prefix_tokens": self.prefix_tokens,
        }
