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
from keras_residual.training.recipe_checks import check_recipe
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import unknown_name_message


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Optimizer, schedule, regularisation and callbacks for `fit`.

    Args:
        name: str. A label for reports. Defaults to `"custom"`.
        optimizer: str. `"sgd"` (momentum) or `"adamw"`. Defaults to `"sgd"`.
        learning_rate: float. Peak learning rate at `batch_size`. Defaults
            to `0.1`.
        batch_size: int. The batch size the recipe was tuned for; other
            batch sizes scale the learning rate linearly. Defaults to `128`.
        epochs: int. Default training length. Defaults to `30`.
        momentum: float. SGD momentum (Adam's beta_1 is left alone).
            Defaults to `0.9`.
        nesterov: bool. Nesterov momentum for SGD. Defaults to `True`.
        weight_decay: float. Decoupled weight decay, applied to kernels
            only: BN parameters and biases (every 1-D variable) are skipped.
            Defaults to `1e-4`.
        schedule: str. `"cosine"` (linear warm-up, then cosine decay to
            zero), `"step"` (divide by `1/step_factor` at each milestone) or
            `"constant"`. Defaults to `"cosine"`.
        warmup_epochs: float. Warm-up length: linear from 0 for the cosine
            schedule; constant at `learning_rate * step_factor` for the step
            schedule (He et al.'s 0.01 warm-up for ResNet-110). Defaults to
            `0`.
        warmup_steps: int. The shortest warm-up in optimizer steps, so
            that there is one when an epoch is 1-2 steps (small data); the
            longer of this and `warmup_epochs` applies, at most a third of
            training. Defaults to `0`.
        milestones: tuple of float. Step-schedule boundaries as fractions of
            training. Defaults to `(0.5, 0.75)`.
        step_factor: float. Step-schedule multiplier. Defaults to `0.1`.
        label_smoothing: float. Defaults to `0`.
        mixup_alpha: float. MixUp strength for the data pipeline; 0 is off.
            Defaults to `0`.
        cutmix_alpha: float. CutMix strength; 0 is off. Defaults to `0`.
        rand_augment: int. RandAugment operations per image; 0 is off.
            Defaults to `0`.
        rand_augment_magnitude: float or None. RandAugment's strength in
            (0, 1]. None: the augmentation preset's, else 0.5.
            Defaults to `None`.
        rotation: float. Largest random rotation in degrees. Defaults to `0`.
        color_jitter: float. Brightness, contrast (and saturation) jitter.
            Defaults to `0`.
        random_erasing: float. Probability of erasing a random rectangle.
            Defaults to `0`.
        steps_per_execution: int. Batches per compiled call. Defaults to `1`.
        clipnorm: float or None. Gradient-norm clipping. Defaults to `None`.
        head_epochs: int. Fine-tuning phase 1: epochs that train only the
            new classifier, the backbone frozen (BatchNorm in inference
            mode); the rest of `epochs` is phase 2. 0 trains everything
            from the start. Defaults to `0`.
        unfreeze: str or int. Phase 2 trains `"all"` of the backbone, or
            only its last N stages (and the final norm); 0 trains the head
            alone (a linear probe). Defaults to `"all"`.
        backbone_lr_ratio: float or `"auto"`. Phase 2's backbone learning
            rate as a fraction of the head's, in (0, 1]; `"auto"` (with
            `linear_probe`) takes it from the probe, see
            `ProbeResult.backbone_ratio`. Defaults to `1.0`.
        layer_decay: float or None. Instead of one ratio, a factor per
            stage: the last stage learns at `layer_decay` times the head's
            rate, the one before at its square, and so on down to the stem.
            Defaults to `None`.
        freeze_bn: bool. Keep BatchNorm layers frozen (statistics and
            affine parameters) in phase 2, as for small fine-tuning sets.
            Defaults to `False`.
        reestimate_bn: bool. Before the linear probe, replace the
            BatchNorm statistics by those of the training data (one pass in
            training mode), so that fine-tuning's first steps see the
            features the probe was fitted to, and in phase 2 keep each
            BatchNorm momentum at most `1 - 1/steps_per_epoch`, so that
            the statistics follow the weights; see
            `training.batch_norm_statistics`. Only when phase 2 trains
            BatchNorm. Defaults to `False`.
        linear_probe: bool. Before phase 2, fit the new classifier to
            convergence on the frozen backbone's features of one pass over
            the training data (LP-FT; see `training.linear_probe`).
            Defaults to `False`.
        keep_best: bool. `train()` ends with the best validation epoch's
            weights when the last is worse. Defaults to `True`.
        description: str. One line for listings. Defaults to `""`.
    """

    name: str = "custom"
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    batch_size: int = 128
    epochs: int = 30
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    warmup_steps: int = 0
    milestones: tuple = (0.5, 0.75)
    step_factor: float = 0.1
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    rand_augment: int = 0
    rand_augment_magnitude: float = None
    rotation: float = 0.0
    color_jitter: float = 0.0
    random_erasing: float = 0.0
    steps_per_execution: int = 1
    clipnorm: float = None
    head_epochs: int = 0
    unfreeze: object = "all"
    backbone_lr_ratio: object = 1.0
    layer_decay: float = None
    freeze_bn: bool = False
    reestimate_bn: bool = False
    linear_probe: bool = False
    keep_best: bool = True
    description: str = ""

    def __post_init__(self):
        check_recipe(self)

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
