"""What a phase of training will do, said before it starts: the batch a
fine-tune's rate scales with, and one line of recipe, epochs, steps, batch,
warm-up and rates."""

from keras_residual.utils.validation import counted


def describe_plan(recipe, epochs, steps, batch_size, backbone=None):
    """One line that says what a phase of training will do: the recipe,
    epochs, steps per epoch, batch size, warm-up and peak rates (the
    head's and the backbone's in a fine-tune's phase 2, the head's alone
    in phase 1).

    Args:
        recipe: `Recipe`. The phase's recipe (its backbone ratio chosen).
        epochs: int. Epochs of this phase.
        steps: int. Optimizer steps per epoch.
        batch_size: int. The batch the rate is scaled to.
        backbone: bool or None. True: the backbone trains too (phase 2
            of a fine-tune); False: training from scratch; None: the head
            alone (phase 1). Defaults to `None`.
    """
    peak = recipe.scaled_learning_rate(batch_size)
    total = epochs * steps
    warmup = recipe.warmup_length(steps, total)
    rates = f"peak rate {peak:.3g}"
    if backbone:
        ratio = recipe.backbone_lr_ratio
        rates = (
            f"peak rate {peak:.3g} for the head, {peak * ratio:.3g} for the "
            f"backbone ({ratio:g}x"
            + (f", layer decay {recipe.layer_decay:g}" if recipe.layer_decay else "")
            + ")"
        )
    elif backbone is None:
        rates += " for the head alone (the backbone frozen)"
    return (
        f"Plan: recipe {recipe.name!r} ({recipe.optimizer}, {recipe.schedule}), "
        f"{counted(epochs, 'epoch')} of {counted(steps, 'step')} at batch {batch_size} "
        f"({total} steps, {warmup} of warm-up), {rates}"
        + (f", gradient norm clipped at {recipe.clipnorm:g}" if recipe.clipnorm else "")
        + "."
    )


def effective_batch(batch_size, data):
    """The batch a fine-tune's rate scales with: `batch_size`, or the
    training images when there are fewer (a data set smaller than one
    batch trains on batches of its own size, so the linear scaling rule
    gives it a lower rate).

    Args:
        batch_size: int. The global batch size.
        data: `DataBundle`. Its `sizes["train"]`, when known.
    """
    images = data.sizes.get("train")
    return min(batch_size, images) if images else batch_size
