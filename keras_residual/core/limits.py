"""The sizes past which a model is almost surely a typo or an attack, and
is refused before anything is built (`keras_residual.core.spec.LIMITS` is
the same dict)."""

from keras_residual.utils.validation import check_int

# Sizes past which a spec is almost surely a typo (a million blocks builds
# for minutes). Raise them, e.g. `LIMITS["depth"] = 5000`, if you mean it.
# `weights` bounds the whole model's weights (4 GiB in float32; ViT-H/14 has
# 632 million): a spec's stages are estimated (depth x filters^2 x 3) before
# anything is built, and every kernel, position embedding and classifier is
# charged before its variables are allocated, e.g. from an untrusted
# `.keras` file.
# `classes` bounds the classifier (a million classes of 2048 features is
# 8 GB), and `input_elements` an input's height x width x channels (an
# 8192-pixel RGB image, or 2**28 samples of 1-D audio), so a `.keras`
# config of `classes=2e7` or a 20000-pixel input is refused, not built.
LIMITS = {
    "depth": 1000,
    "filters": 65536,
    "weights": 1_000_000_000,
    "classes": 1_000_000,
    "input_elements": 2**28,
}


def check_classes(classes, argument="classes"):
    """`classes` as an int, refusing fewer than 1 or more than
    `LIMITS["classes"]`.

    Args:
        classes: int. A classifier's classes.
        argument: str. Its name in the message. Defaults to `"classes"`.
    """
    check_int(argument, classes, minimum=1)
    if classes > LIMITS["classes"]:
        raise ValueError(
            f"`{argument}` is {classes}, over the limit of {LIMITS['classes']} "
            "classes (the classifier alone would need gigabytes); if you mean "
            "it, raise keras_residual.core.spec.LIMITS['classes']."
        )
    return int(classes)
