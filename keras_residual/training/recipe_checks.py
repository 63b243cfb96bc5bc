"""The checks of a `Recipe`'s fields: each bad value is refused with a
message naming the field, the value and what is allowed."""

from keras_residual.data.load_options import MAX_BATCH_SIZE
from keras_residual.utils.validation import check_bool
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")


def check_recipe(recipe):
    """Checks every field of `recipe`, and stores its milestones as a tuple.

    Args:
        recipe: `Recipe`. The recipe, from its `__post_init__`.
    """
    check_choice("optimizer", recipe.optimizer, OPTIMIZERS)
    check_choice("schedule", recipe.schedule, SCHEDULES)
    check_float("learning_rate", recipe.learning_rate, minimum=0.0, min_inclusive=False)
    check_int("batch_size", recipe.batch_size, minimum=1, maximum=MAX_BATCH_SIZE)
    check_int("epochs", recipe.epochs, minimum=1)
    check_float(
        "momentum", recipe.momentum, minimum=0.0, maximum=1.0, max_inclusive=False
    )
    check_float("weight_decay", recipe.weight_decay, minimum=0.0)
    check_float("warmup_epochs", recipe.warmup_epochs, minimum=0.0)
    check_int("warmup_steps", recipe.warmup_steps, minimum=0)
    check_float(
        "step_factor",
        recipe.step_factor,
        minimum=0.0,
        maximum=1.0,
        min_inclusive=False,
    )
    check_float(
        "label_smoothing",
        recipe.label_smoothing,
        minimum=0.0,
        maximum=1.0,
        max_inclusive=False,
    )
    check_float("mixup_alpha", recipe.mixup_alpha, minimum=0.0)
    check_float("cutmix_alpha", recipe.cutmix_alpha, minimum=0.0)
    if recipe.rand_augment_magnitude is not None:  # 0 would read as unset
        check_float(
            "rand_augment_magnitude",
            recipe.rand_augment_magnitude,
            minimum=0.0,
            maximum=1.0,
            min_inclusive=False,
        )
    recipe.augmentation()  # checks the augmentation fields
    check_int("steps_per_execution", recipe.steps_per_execution, minimum=1)
    if recipe.clipnorm is not None:
        check_float("clipnorm", recipe.clipnorm, minimum=0.0, min_inclusive=False)
    check_int("head_epochs", recipe.head_epochs, minimum=0)
    if recipe.head_epochs >= recipe.epochs:
        raise ValueError(
            f"`head_epochs` ({recipe.head_epochs}) must be less than `epochs` "
            f"({recipe.epochs}): phase 2 fine-tunes in the epochs after it."
        )
    if recipe.unfreeze != "all" and not (
        type(recipe.unfreeze) is int and recipe.unfreeze >= 0
    ):
        raise ValueError(
            "`unfreeze` must be 'all' or the number (>= 0) of last stages "
            f"to train; received {recipe.unfreeze!r}."
        )
    if isinstance(recipe.backbone_lr_ratio, str) and recipe.backbone_lr_ratio != "auto":
        raise ValueError(
            "`backbone_lr_ratio` must be 'auto' or a number in (0, 1]; "
            f"received {recipe.backbone_lr_ratio!r}."
        )
    if recipe.backbone_lr_ratio == "auto":
        if not recipe.linear_probe:
            raise ValueError(
                "`backbone_lr_ratio='auto'` is chosen from the linear "
                "probe's validation accuracy; set linear_probe=True too, "
                "or pass a ratio in (0, 1]."
            )
    else:
        check_float(
            "backbone_lr_ratio",
            recipe.backbone_lr_ratio,
            minimum=0.0,
            maximum=1.0,
            min_inclusive=False,
        )
    if recipe.layer_decay is not None:
        check_float("layer_decay", recipe.layer_decay, 0.0, 1.0, min_inclusive=False)
    check_bool("freeze_bn", recipe.freeze_bn)
    check_bool("linear_probe", recipe.linear_probe)
    check_bool("reestimate_bn", recipe.reestimate_bn)
    check_bool("keep_best", recipe.keep_best)
    milestones = tuple(recipe.milestones)
    if (
        not milestones
        or any(not 0 < m < 1 for m in milestones)
        or list(milestones) != sorted(milestones)
    ):
        raise ValueError(
            "`milestones` must be increasing fractions of training in "
            f"(0, 1); received {recipe.milestones!r}."
        )
    object.__setattr__(recipe, "milestones", milestones)
