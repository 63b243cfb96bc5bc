"""Optimizers with a learning-rate multiplier per variable, for fine-tuning
(a lower rate for the pretrained backbone than for the new head, or a
rate that decays stage by stage), and a weight average (EMA) that warms up.

Keras optimizers have no parameter groups; these subclasses scale the
learning rate inside `update_step`, which Keras calls once per variable on
every backend, so Adam-type optimizers are scaled correctly too (scaling
the gradient would not be).
"""

import contextlib

import keras

from keras_residual.utils.validation import check_float


class _PerVariableLearningRate:
    """Mixin: `multipliers` maps variable paths to learning-rate factors
    (default 1)."""

    def __init__(self, multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.multipliers = {str(k): float(v) for k, v in (multipliers or {}).items()}
        for path, factor in self.multipliers.items():
            if not factor >= 0:
                raise ValueError(
                    f"Learning-rate multiplier of {path!r} must be >= 0; "
                    f"received {factor!r}."
                )

    def build(self, variables):
        super().build(variables)
        self._factors = [self.multipliers.get(v.path, 1.0) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factors[self._get_variable_index(variable)]
        if factor != 1.0:
            learning_rate = learning_rate * factor
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return dict(super().get_config(), multipliers=self.multipliers)


class _WarmedUpAverage:
    """Mixin: with `use_ema`, the weight average's decay at step `t` is
    `min(ema_momentum, (1 + t) / (10 + t))`, as `tf.train.
    ExponentialMovingAverage` with `num_updates`, so that a short run's
    average is not dominated by the initial weights (Keras' fixed decay of
    0.999 keeps 37% of them after 1,000 steps)."""

    def _update_model_variables_moving_average(self, trainable_variables):
        if not self.use_ema:
            return
        steps = keras.ops.cast(self.iterations, "float32")
        decay = keras.ops.minimum(self.ema_momentum, (1.0 + steps) / (10.0 + steps))
        for variable, average in zip(
            trainable_variables, self._model_variables_moving_average
        ):
            if average is not None:
                rate = keras.ops.cast(decay, variable.dtype)
                average.assign(rate * average + (1.0 - rate) * variable)


@keras.saving.register_keras_serializable(package="keras_residual")
class ScaledSGD(_PerVariableLearningRate, _WarmedUpAverage, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with per-variable learning-rate multipliers
    and, with `use_ema=True`, a weight average whose decay warms up.

    Args:
        multipliers: dict or None. `{variable.path: factor}`; unlisted
            variables use factor 1. Defaults to `None`.
        **kwargs: `keras.optimizers.SGD` arguments.
    """


@keras.saving.register_keras_serializable(package="keras_residual")
class ScaledAdamW(_PerVariableLearningRate, _WarmedUpAverage, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with per-variable learning-rate multipliers
    and, with `use_ema=True`, a weight average whose decay warms up.

    Args:
        multipliers: dict or None. `{variable.path: factor}`; unlisted
            variables use factor 1. Defaults to `None`.
        **kwargs: `keras.optimizers.AdamW` arguments.
    """


def no_decay_variables(model):
    """The trainable variables weight decay must skip: every variable of
    rank <= 1 (BN gamma/beta, biases, gate biases).

    Args:
        model: `keras.Model`. The model.
    """
    return [v for v in model.trainable_variables if len(v.shape) <= 1]


def check_ema(ema):
    """Refuses a weight-average decay outside (0, 1); returns it as a float.

    Args:
        ema: float. The decay.
    """
    return check_float("ema", ema, 0.0, 1.0, min_inclusive=False, max_inclusive=False)


def averaging_optimizer(model):
    """The optimizer of `model` that keeps a weight average (EMA), or None.

    Args:
        model: `keras.Model`. A compiled model.
    """
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # loss scaling
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return None
    return optimizer if optimizer.built else None


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block, `model`'s trainable weights are its optimizer's
    weight average (EMA); outside, its own. Without an average, nothing
    changes.

    Args:
        model: `keras.Model`. A compiled model.
    """
    optimizer = averaging_optimizer(model)
    if optimizer is None:
        yield model
        return
    variables = model.trainable_variables
    own = [keras.ops.convert_to_numpy(v) for v in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield model
    finally:
        for variable, value in zip(variables, own):
            variable.assign(value)


def detach_average(model):
    """After `fit`, which ends by assigning the weight average to the
    model (`finalize_variable_values`): gives the model's weights their own
    buffers. On JAX the assignment shares one array between a weight and
    its average, and the next jitted call that donates it (an `evaluate`)
    deletes the other. Without an average, nothing changes.

    Args:
        model: `keras.Model`. A model `fit` has just trained.
    """
    if averaging_optimizer(model) is None:
        return
    for variable in model.trainable_variables:
        variable.assign(keras.ops.convert_to_numpy(variable))
