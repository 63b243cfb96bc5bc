"""`RecipeFields`: the fields of a training `Recipe`, each written once
with its documentation, its check and its `train` flag (see
`keras_residual.utils.options`), and the rules that tie fields together.
`Recipe` (training/recipe.py) adds what `compile` and `fit` need."""

import argparse

from keras_residual.data.load_options import MAX_BATCH_SIZE
from keras_residual.utils.options import check_options
from keras_residual.utils.options import option
from keras_residual.utils.options import option_group
from keras_residual.utils.validation import check_float

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")
# A fraction in (0, 1]: a rate ratio or factor.
FRACTION = dict(minimum=0.0, maximum=1.0, min_inclusive=False)


def word_or_number(word, number, allowed):
    """A flag's parser for a field that is a word or a number: `word` as
    it is, else `number(text)`, else an argparse error saying `allowed`.

    Args:
        word: str. The word (`"all"`, `"auto"`).
        number: type. `int` or `float`.
        allowed: str. What the flag takes, for the message.
    """

    def parse(text):
        if text == word:
            return text
        try:
            return number(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {allowed}; received {text!r}"
            ) from None

    return parse


# `--unfreeze` and `--backbone-lr-ratio`.
parse_unfreeze = word_or_number("all", int, "'all' or a number of stages")
parse_ratio = word_or_number("auto", float, "'auto' or a number in (0, 1]")


@option_group
class RecipeFields:
    """Optimizer, schedule, regularisation and callbacks for `fit`."""

    name: str = option("custom", "A label for reports.", cli=False)
    optimizer: str = option(
        "sgd",
        "`sgd` (momentum) or `adamw`.",
        choices=OPTIMIZERS,
    )
    learning_rate: float = option(
        0.1,
        "Peak learning rate at `batch_size`.",
        minimum=0.0,
        min_inclusive=False,
    )
    batch_size: int = option(
        128,
        "The batch size the recipe was tuned for; other batch sizes scale "
        "the learning rate linearly (a run's batch is `--batch-size`).",
        minimum=1,
        maximum=MAX_BATCH_SIZE,
        cli=False,
    )
    epochs: int = option(
        30, "Default training length (a run's is `--epochs`).", minimum=1, cli=False
    )
    momentum: float = option(
        0.9,
        "SGD momentum (Adam's beta_1 is left alone).",
        minimum=0.0,
        maximum=1.0,
        max_inclusive=False,
    )
    nesterov: bool = option(True, "Nesterov momentum for SGD.")
    weight_decay: float = option(
        1e-4,
        "Decoupled weight decay, applied to kernels only: BN parameters and "
        "biases (every 1-D variable) are skipped.",
        minimum=0.0,
    )
    schedule: str = option(
        "cosine",
        "`cosine` (linear warm-up, then cosine decay to zero), `step` "
        "(multiply by `step_factor` at each milestone) or `constant`.",
        choices=SCHEDULES,
    )
    warmup_epochs: float = option(
        0.0,
        "Warm-up length: linear from 0 for the cosine schedule; constant at "
        "`learning_rate * step_factor` for the step schedule (He et al.'s "
        "0.01 warm-up for ResNet-110).",
        minimum=0.0,
    )
    warmup_steps: int = option(
        0,
        "The shortest warm-up in optimizer steps, so that there is one when "
        "an epoch is 1-2 steps (small data); the longer of this and "
        "`warmup_epochs` applies, at most a third of training.",
        minimum=0,
    )
    milestones: tuple = option(
        (0.5, 0.75),
        "Step-schedule boundaries, increasing fractions of training in (0, 1).",
        cli=False,
    )
    step_factor: float = option(0.1, "Step-schedule multiplier.", **FRACTION)
    label_smoothing: float = option(
        0.0,
        "Label smoothing of the loss.",
        minimum=0.0,
        maximum=1.0,
        max_inclusive=False,
    )
    mixup_alpha: float = option(
        0.0,
        "MixUp strength for the data pipeline; 0 is off.",
        minimum=0.0,
        flag="--mixup",
    )
    cutmix_alpha: float = option(
        0.0, "CutMix strength; 0 is off.", minimum=0.0, flag="--cutmix"
    )
    # The augmentation fields' ranges are `Augmentation`'s, checked there.
    rand_augment: int = option(0, "RandAugment operations per image; 0 is off.")
    rand_augment_magnitude: float = option(
        None,
        "RandAugment's strength in (0, 1]. None: the augmentation preset's, else 0.5.",
        **FRACTION,  # checked here: the merge would read 0 as unset
    )
    rotation: float = option(0.0, "Largest random rotation in degrees.")
    color_jitter: float = option(
        0.0, "Brightness, contrast (and saturation) jitter, a fraction."
    )
    random_erasing: float = option(0.0, "Probability of erasing a random rectangle.")
    steps_per_execution: int = option(1, "Batches per compiled call.", minimum=1)
    clipnorm: float = option(
        None, "Gradient-norm clipping.", minimum=0.0, min_inclusive=False
    )
    head_epochs: int = option(
        0,
        "Fine-tuning phase 1: epochs that train only the new classifier, the "
        "backbone frozen (BatchNorm in inference mode); the rest of `epochs` "
        "is phase 2. 0 trains everything from the start.",
        minimum=0,
    )
    unfreeze: object = option(
        "all",
        "Fine-tuning phase 2 trains `all` of the backbone, or only its last N "
        "stages (and the final norm); 0 trains the head alone (a linear "
        "probe).",
        type_doc="str or int",
        cli_type=parse_unfreeze,
    )
    backbone_lr_ratio: object = option(
        1.0,
        "Fine-tuning phase 2's backbone learning rate as a fraction of the "
        "head's, in (0, 1]; `auto` (with `linear_probe`) takes it from the "
        "probe, see `ProbeResult.backbone_ratio`.",
        type_doc="float or str",
        cli_type=parse_ratio,
    )
    layer_decay: float = option(
        None,
        "Fine-tuning: instead of one ratio, a factor per stage: the last "
        "stage learns at `layer_decay` times the head's rate, the one before "
        "at its square, and so on down to the stem.",
        **FRACTION,
    )
    freeze_bn: bool = option(
        False,
        "Fine-tuning: keep BatchNorm layers frozen (statistics and affine "
        "parameters) in phase 2, as for small fine-tuning sets.",
        negative_flag="--train-bn",
    )
    reestimate_bn: bool = option(
        False,
        "Fine-tuning: before the linear probe, replace the BatchNorm "
        "statistics by those of the training data (one pass in training "
        "mode), and in phase 2 keep each BatchNorm momentum at most "
        "`1 - 1/steps_per_epoch`, so the statistics follow the weights (see "
        "`training.batch_norm_statistics`); only when phase 2 trains "
        "BatchNorm.",
    )
    linear_probe: bool = option(
        False,
        "Fine-tuning: before phase 2, fit the new classifier to convergence "
        "on the frozen backbone's features of one pass over the training "
        "data (LP-FT; see `training.linear_probe`).",
    )
    keep_best: bool = option(
        True,
        "`train()` ends with the best validation epoch's weights when the "
        "last is worse beyond noise and, fine-tuning, with the start's when "
        "fine-tuning does not beat it.",
        negative_flag="--keep-last",
    )
    description: str = option("", "One line for listings.", cli=False)

    def __post_init__(self):
        check_recipe(self)


def check_recipe(recipe):
    """Checks every field of `recipe` (`check_options`) and the rules that
    tie fields together, and stores its milestones as a tuple.

    Args:
        recipe: `Recipe`. The recipe, from its `__post_init__`.
    """
    check_options(recipe)
    recipe.augmentation()  # checks the augmentation fields together
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
    _check_backbone_ratio(recipe)
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


def _check_backbone_ratio(recipe):
    ratio = recipe.backbone_lr_ratio
    if isinstance(ratio, str) and ratio != "auto":
        raise ValueError(
            "`backbone_lr_ratio` must be 'auto' or a number in (0, 1]; "
            f"received {ratio!r}."
        )
    if ratio == "auto" and not recipe.linear_probe:
        raise ValueError(
            "`backbone_lr_ratio='auto'` is chosen from the linear probe's "
            "validation accuracy; set linear_probe=True too, or pass a ratio "
            "in (0, 1]."
        )
    if ratio != "auto":
        check_float("backbone_lr_ratio", ratio, **FRACTION)
