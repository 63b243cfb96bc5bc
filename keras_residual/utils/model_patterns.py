"""Choosing models by fnmatch patterns, as timm's `list_models` does: a
pure function over names, descriptions and weights tags, shared by
`list_models()` and the command line's catalog (which needs no Keras)."""

import fnmatch


def matching_models(models, pattern=None, pretrained=False):
    """`{name: description}` of the `models` that `pattern` matches.

    Args:
        models: dict. `{name: (description, weights tags)}`.
        pattern: str, sequence of str or None. fnmatch patterns, matched
            without regard to case against a name, its weights tags and
            `"name.tag"`; a model matching any is listed. Defaults to
            `None` (every model).
        pretrained: bool. Only models with weights tags. Defaults to
            `False`.
    """
    patterns = _patterns(pattern)
    if not isinstance(pretrained, bool):
        raise TypeError(f"`pretrained` must be True or False; received {pretrained!r}.")
    listed = {}
    for name, (description, tags) in models.items():
        if pretrained and not tags:
            continue
        names = [name.lower()]
        for tag in tags:  # timm's ids are tags here: "resnet50.a1_in1k"
            names += [tag.lower(), f"{name}.{tag}".lower()]
        if patterns and not any(
            fnmatch.fnmatchcase(candidate, p) for p in patterns for candidate in names
        ):
            continue
        listed[name] = description
    return listed


def _patterns(pattern):
    if pattern is None:
        return []
    patterns = [pattern] if isinstance(pattern, str) else pattern
    if not isinstance(patterns, (list, tuple)) or not all(
        isinstance(p, str) for p in patterns
    ):
        raise TypeError(
            "`pattern` must be an fnmatch pattern such as 'resnet5*', a list of "
            f"them, or None; received {pattern!r}."
        )
    return [p.lower() for p in patterns]
