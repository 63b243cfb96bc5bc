"""Optimizers with a learning-rate multiplier per variable, for fine-tuning
(a lower rate for the pretrained backbone than for the new head, or a
rate that decays stage by stage).

Keras optimizers have no parameter groups; these subclasses scale the
learning rate inside `update_step`, which Keras calls once per variable on
every backend, so Adam-type optimizers are scaled correctly too (scaling
the gradient would not be).
"""

import keras


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


@keras.saving.register_keras_serializable(package="keras_residual")
class ScaledSGD(_PerVariableLearningRate, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with per-variable learning-rate multipliers.

    Args:
        multipliers: dict or None. `{variable.path: factor}`; unlisted
            variables use factor 1. Defaults to `None`.
        **kwargs: `keras.optimizers.SGD` arguments.
    """


@keras.saving.register_keras_serializable(package="keras_residual")
class ScaledAdamW(_PerVariableLearningRate, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with per-variable learning-rate multipliers.

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
