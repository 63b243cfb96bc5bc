"""The recipe registry and its presets: `he2015` (the paper's CIFAR
schedule), `modern`, `fast`, `finetune`, `speedrun` (`fast` scaled) and
`speech` (`fast` with AdamW, for audio)."""

from keras_residual.training.recipe import Recipe
from keras_residual.utils.registry import Registry
from keras_residual.utils.validation import check_int

RECIPES = Registry("recipe", "recipe")


def register_recipe(recipe, overwrite=False):
    """Registers a `Recipe` under `recipe.name`.

    Args:
        recipe: `Recipe`. Registered under `recipe.name`.
        overwrite: bool. Replace a recipe of the same name. Defaults to `False`.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"`recipe` must be a Recipe; received {type(recipe).__name__}.")
    RECIPES.register(recipe.name, recipe, overwrite=overwrite)
    return recipe


def get_recipe(recipe="fast", **changes):
    """Returns a registered recipe (or the given `Recipe`) with `changes`.

    Args:
        recipe: str or `Recipe`. A name from `list_recipes()`. Defaults to
            `"fast"`.
        **changes: Recipe fields to override, e.g. `epochs=50`.
    """
    if not isinstance(recipe, Recipe):
        recipe = RECIPES.get(recipe)
    return recipe.replace(**changes) if changes else recipe


def default_recipe(weights, audio=False):
    """The recipe name a `train()` run uses when given none: `"finetune"`
    from weights, else `"speech"` for audio data and `"fast"` for images.

    Args:
        weights: object. `train`'s `weights`; only whether it is None counts.
        audio: bool. Whether the run's data is audio. Defaults to `False`.
    """
    if weights is not None:
        return "finetune"
    return "speech" if audio else "fast"


def run_recipe(recipe, weights, epochs, recipe_overrides, audio=False):
    """The recipe of a `train()` run: `recipe` (default: `default_recipe`)
    with `recipe_overrides` and the run's `epochs`, whose head phase must
    leave epochs for phase 2.

    Args:
        recipe: str, `Recipe` or None. See `train`.
        weights: object. `train`'s `weights`; only whether it is None counts.
        epochs: int or None. The run's epochs; defaults to the recipe's.
        recipe_overrides: dict or None. Recipe fields to change.
        audio: bool. Whether the run's data is audio. Defaults to `False`.
    """
    if recipe is None:
        recipe = default_recipe(weights, audio)
    overrides = dict(recipe_overrides or {})
    base = get_recipe(recipe)
    epochs = check_int(
        "epochs",
        overrides.get("epochs", base.epochs) if epochs is None else epochs,
        minimum=1,
    )
    head_epochs = check_int(
        "head_epochs", overrides.get("head_epochs", base.head_epochs), minimum=0
    )
    if head_epochs >= epochs:
        raise ValueError(
            f"`epochs` ({epochs}) must exceed the recipe's `head_epochs` "
            f"({head_epochs}), the epochs of the new head alone."
        )
    return get_recipe(base, **{**overrides, "epochs": epochs})


def list_recipes():
    """Returns `{name: description}` for every registered recipe."""
    return {name: recipe.description for name, recipe in RECIPES.items()}


register_recipe(
    Recipe(
        name="he2015",
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=128,
        epochs=164,
        momentum=0.9,
        nesterov=False,
        weight_decay=1e-4,
        schedule="step",
        milestones=(0.5, 0.75),
        step_factor=0.1,
        description="He et al. 2015 CIFAR: SGD 0.1, momentum 0.9, wd 1e-4, "
        "batch 128, /10 at 50% and 75% (32k/48k of 64k iterations).",
    )
)
register_recipe(
    Recipe(
        name="modern",
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=128,
        epochs=200,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="cosine",
        warmup_epochs=5,
        label_smoothing=0.1,
        # Measured on Fashion-MNIST (benchmarks/augmentation.py): +0.84 points
        # at 30 epochs; rotation, colour jitter and RandAugment did not help.
        random_erasing=0.25,
        description="Nesterov SGD, 5-epoch warm-up + cosine, wd 5e-4, label "
        "smoothing 0.1, random erasing 0.25; add MixUp/CutMix with "
        "mixup_alpha/cutmix_alpha.",
    )
)
register_recipe(
    Recipe(
        name="fast",
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=64,
        epochs=20,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="cosine",
        warmup_epochs=1,
        label_smoothing=0.1,
        description="Small data in few epochs: Nesterov SGD, 1-epoch warm-up + "
        "cosine, label smoothing 0.1, batch 64.",
    )
)
register_recipe(
    Recipe(
        name="finetune",
        optimizer="sgd",
        # Measured (benchmarks/transfer_robustness.py): 0.1 at batch 64
        # diverged within 3-5 steps on small shifted or inverted data (an
        # epoch of 1-2 steps); 0.04 did not, and scored as well in-domain.
        # Clipping the gradient norm at 1 stopped the divergence at the end
        # of the warm-up on shifted data at k = 30 (median 64.4 -> 74.6%,
        # deterministic, 5 seeds) and changed no other cell by more than
        # noise (its worst inverted k = 30 seed 69.8 -> 81.7%).
        learning_rate=0.04,
        clipnorm=1.0,
        batch_size=64,
        epochs=10,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="cosine",
        warmup_epochs=1,
        warmup_steps=10,
        label_smoothing=0.1,
        head_epochs=0,
        reestimate_bn=True,
        linear_probe=True,
        unfreeze="all",
        backbone_lr_ratio="auto",
        freeze_bn=False,
        description="From pretrained weights (LP-FT): BatchNorm statistics "
        "re-estimated on the training images, the new classifier fitted "
        "on the frozen backbone's features (a linear probe), then all of "
        "it with BatchNorm trained: the backbone at the head's rate unless "
        "the probe already classifies the validation images (then down to "
        "0.1x); Nesterov SGD 0.04 at batch 64 (scaled with the batch, or "
        "with the images when fewer), a warm-up of at least 10 steps, "
        "cosine, wd 5e-4, label smoothing 0.1. The run keeps its best "
        "validation epoch when the last is worse beyond noise, and ends "
        "with the start (the probe) when fine-tuning does not beat it.",
    )
)
register_recipe(
    # `fast` scaled to batch 256 (its 0.1 at 64, linearly) and cut to 7
    # epochs, so that ResNet20 on Fashion-MNIST ends within 10 minutes on
    # two CPU cores (benchmarks/time_to_accuracy.py: 94% is not reached
    # yet; docs/training.md#time-to-accuracy).
    get_recipe("fast").replace(
        name="speedrun",
        learning_rate=0.4,
        batch_size=256,
        epochs=7,
        description="Time to accuracy on a few CPU cores: `fast` at batch 256 "
        "(rate 0.4) for 7 epochs; evaluate with flip TTA.",
    )
)
register_recipe(
    # Measured on the spoken digits with ResNet20 and 64 mel bands, 40
    # epochs (docs/speech.md): 96.8% of the test clips against `fast`'s
    # 85.2%.
    get_recipe("fast").replace(
        name="speech",
        optimizer="adamw",
        learning_rate=3e-3,
        weight_decay=0.05,
        epochs=40,
        description="Speech (the default for audio data): `fast` with AdamW "
        "3e-3 and weight decay 0.05, 40 epochs.",
    )
)
