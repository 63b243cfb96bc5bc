"""The training recipe: everything `compile` and `fit` need, as one object.

```python
recipe = keras_residual.get_recipe("he2015")
model.compile(**recipe.compile_kwargs(model, steps_per_epoch=391))
model.fit(train, validation_data=val, **recipe.fit_kwargs("runs/r20"))
```
"""

import dataclasses

import keras

from keras_residual.core.heads import head_outputs_logits
from keras_residual.data.augmentation import AUGMENTATION_FIELDS
from keras_residual.data.augmentation import get_augmentation
from keras_residual.training.callbacks import run_callbacks
from keras_residual.training.losses import ClassificationCrossentropy
from keras_residual.training.optimizers import ScaledAdamW
from keras_residual.training.optimizers import ScaledSGD
from keras_residual.training.optimizers import check_ema
from keras_residual.training.optimizers import no_decay_variables
from keras_residual.training.precision import resolve_jit_compile
from keras_residual.training.recipe_fields import RecipeFields
from keras_residual.utils.options import with_field_docs
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import unknown_name_message


@with_field_docs
class Recipe(RecipeFields):
    """Optimizer, schedule, regularisation and callbacks for `fit`: the
    fields of `RecipeFields` (each checked when the recipe is made), with
    the keywords `compile` and `fit` take."""

    def replace(self, **changes):
        """A copy with `changes` applied (and checked).

        Args:
            **changes: Recipe fields to change; unknown names raise `ValueError` with
                close matches.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            name = sorted(unknown)[0]
            raise ValueError(
                unknown_name_message(
                    "recipe field",
                    name,
                    [f.name for f in dataclasses.fields(self)],
                    "field",
                )
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def label_mode(self):
        """`"categorical"` when MixUp/CutMix mix labels, else `"sparse"`."""
        mixing = self.mixup_alpha > 0 or self.cutmix_alpha > 0
        return "categorical" if mixing else "sparse"

    def augmentation(self, preset=None):
        """The training augmentation: `preset` with the recipe's non-zero
        augmentation fields in place of its own.

        Args:
            preset: str, dict, `Augmentation` or None. See
                `load_data(augmentation=...)`. Defaults to `None` (none).
        """
        return get_augmentation(preset).merged(
            **{name: getattr(self, name) for name in AUGMENTATION_FIELDS}
        )

    def data_kwargs(self, augmentation=None):
        """Keyword arguments for `load_data` that the recipe decides.

        Args:
            augmentation: str, dict, `Augmentation` or None. The
                augmentation preset the recipe's fields add to.
                Defaults to `None`.
        """
        return {
            "label_mode": self.label_mode,
            "mixup_alpha": self.mixup_alpha,
            "cutmix_alpha": self.cutmix_alpha,
            "augmentation": self.augmentation(augmentation),
        }

    def scaled_learning_rate(self, batch_size):
        """The peak learning rate scaled linearly to `batch_size`.

        Args:
            batch_size: int. The batch size trained with.
        """
        return self.learning_rate * batch_size / self.batch_size

    def warmup_length(self, steps_per_epoch, total):
        """Warm-up steps: the longer of `warmup_epochs` and `warmup_steps`,
        the latter at most a third of the `total` steps; none under a
        constant schedule.

        Args:
            steps_per_epoch: int. Optimizer steps per epoch.
            total: int. Optimizer steps of the whole schedule.
        """
        if self.schedule == "constant":
            return 0
        by_epochs = int(round(self.warmup_epochs * steps_per_epoch))
        by_steps = min(self.warmup_steps, total // 3)
        return min(max(by_epochs, by_steps), total - 1)

    def learning_rate_schedule(self, steps_per_epoch, epochs=None, batch_size=None):
        """The learning-rate schedule over `epochs * steps_per_epoch` steps.

        Args:
            steps_per_epoch: int. Optimizer steps per epoch.
            epochs: int or None. Defaults to the recipe's `epochs`.
            batch_size: int or None. Scales the peak learning rate.
                Defaults to the recipe's `batch_size`.
        """
        check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        epochs = (
            self.epochs if epochs is None else check_int("epochs", epochs, minimum=1)
        )
        peak = self.scaled_learning_rate(batch_size or self.batch_size)
        total = epochs * steps_per_epoch
        if self.schedule == "constant":
            return peak
        warmup = self.warmup_length(steps_per_epoch, total)
        if self.schedule == "step":
            boundaries = [int(round(m * total)) for m in self.milestones]
            values = [peak * self.step_factor**i for i in range(len(boundaries) + 1)]
            if 0 < warmup < boundaries[0]:  # He et al.'s constant warm-up
                boundaries, values = (
                    [warmup] + boundaries,
                    [peak * self.step_factor] + values,
                )
            return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
        if warmup == 0:
            return keras.optimizers.schedules.CosineDecay(peak, total)
        return keras.optimizers.schedules.CosineDecay(
            0.0, total - warmup, warmup_target=peak, warmup_steps=warmup
        )

    def build_optimizer(
        self,
        model,
        steps_per_epoch,
        epochs=None,
        batch_size=None,
        multipliers=None,
        ema=None,
    ):
        """The optimizer, with weight decay excluded from 1-D variables.

        Args:
            model: `keras.Model`. Its 1-D variables are excluded from weight decay.
            steps_per_epoch: int. Optimizer steps per epoch.
            epochs: int or None. Defaults to the recipe's.
            batch_size: int or None. Scales the learning rate. Defaults to the recipe's.
            multipliers: dict or None. `{variable.path: factor}` learning-rate
                multipliers (fine-tuning); see `ScaledSGD`. Defaults to `None`.
            ema: float or None. Keep an exponential moving average of the
                weights with this decay (warmed up, see `ScaledSGD`); `fit`
                ends with the average in the model. Defaults to `None`.
        """
        learning_rate = self.learning_rate_schedule(steps_per_epoch, epochs, batch_size)
        common = dict(
            learning_rate=learning_rate,
            weight_decay=self.weight_decay,
            clipnorm=self.clipnorm,
        )
        if multipliers:
            common["multipliers"] = multipliers
        if ema is not None:
            common.update(use_ema=True, ema_momentum=check_ema(ema))
        ours = bool(multipliers) or ema is not None
        if self.optimizer == "sgd":
            sgd = ScaledSGD if ours else keras.optimizers.SGD
            optimizer = sgd(momentum=self.momentum, nesterov=self.nesterov, **common)
        else:
            adamw = ScaledAdamW if ours else keras.optimizers.AdamW
            optimizer = adamw(**common)
        optimizer.exclude_from_weight_decay(var_list=no_decay_variables(model))
        if model.dtype_policy.name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def compile_kwargs(
        self,
        model,
        steps_per_epoch,
        epochs=None,
        batch_size=None,
        jit_compile="auto",
        multipliers=None,
        ema=None,
    ):
        """Arguments for `model.compile(**...)`: optimizer, a loss matching
        the head (logits or probabilities), metrics, `steps_per_execution`
        and `jit_compile`. Metrics are `weighted_metrics` and the loss
        averages over sample weights, so zero-weight padding (see
        `load_data(uniform_batches=True)`) changes neither.

        Args:
            model: `keras.Model`. The model to compile.
            steps_per_epoch: int. Optimizer steps per epoch.
            epochs: int or None. Defaults to the recipe's `epochs`.
            batch_size: int or None. Defaults to the recipe's `batch_size`.
            jit_compile: `"auto"`, True or False. See
                `resolve_jit_compile`. Defaults to `"auto"`.
            multipliers: dict or None. Per-variable learning-rate
                multipliers. Defaults to `None`.
            ema: float or None. Weight-average decay; see
                `build_optimizer`. Defaults to `None`.
        """
        classes = model.outputs[0].shape[-1]
        metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            if self.label_mode == "sparse"
            else keras.metrics.CategoricalAccuracy(name="accuracy")
        ]
        if classes and classes > 10:
            metrics.append(
                keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")
                if self.label_mode == "sparse"
                else keras.metrics.TopKCategoricalAccuracy(5, name="top5")
            )
        return {
            "optimizer": self.build_optimizer(
                model, steps_per_epoch, epochs, batch_size, multipliers, ema
            ),
            "loss": ClassificationCrossentropy(
                from_logits=head_outputs_logits(model),
                label_smoothing=self.label_smoothing,
                reduction="mean_with_sample_weight",
            ),
            "weighted_metrics": metrics,
            "steps_per_execution": self.steps_per_execution,
            "jit_compile": resolve_jit_compile(jit_compile),
        }

    def callbacks(self, run_dir, monitor="val_accuracy", tensorboard=True):
        """The recipe's callbacks, writing into `run_dir`: a non-finite-loss
        guard, the resumable backup (`checkpoints/`, `history.csv`), the best
        model (`checkpoints/best.keras`) and TensorBoard logs (`logs/`).

        Args:
            run_dir: str. Where the callbacks write.
            monitor: str. The metric the best model follows. Defaults to
                `"val_accuracy"`.
            tensorboard: bool. Add TensorBoard logs. Defaults to `True`.
        """
        return run_callbacks(run_dir, monitor, tensorboard)

    def fit_kwargs(self, run_dir=None, epochs=None, callbacks=(), **options):
        """Arguments for `model.fit(data, **...)`: `epochs` and callbacks.

        Args:
            run_dir: str or None. With a directory, the recipe's checkpoint,
                backup, CSV and TensorBoard callbacks are added; see
                `callbacks`.
            epochs: int or None. Defaults to the recipe's `epochs`.
            callbacks: sequence. Extra callbacks, run first.
            **options: forwarded to `callbacks()`.
        """
        recipe_callbacks = self.callbacks(run_dir, **options) if run_dir else []
        return {
            "epochs": self.epochs if epochs is None else epochs,
            "callbacks": list(callbacks) + recipe_callbacks,
        }
