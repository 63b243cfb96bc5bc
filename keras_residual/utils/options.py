"""Option groups: frozen dataclasses whose fields carry their own
documentation, command-line flag and run-settings role, so that an option
is written once and the signature's keywords, the docstring, the CLI flags
(`keras_residual.cli.options`) and `run.json` all come from it."""

import dataclasses
import inspect
import textwrap

from keras_residual.utils.validation import close_matches


def option(default, doc, **metadata):
    """A documented option field.

    Args:
        default: object. The default value (immutable).
        doc: str. One or two sentences for the docstring and `--help`.
        **metadata: how the field appears elsewhere: `choices` (tuple),
            `cli` (False: API only), `flag` (the CLI flag; defaults to
            `--the-name`), `cli_type` (the flag's type when the default is
            None), `cli_choices` and `parse` (a flag whose spelling differs
            from the value), `setting` (True: recorded in `run.json`, and a
            resumed run must match it).
    """
    return dataclasses.field(default=default, metadata=dict(metadata, doc=doc))


def option_group(cls):
    """Class decorator: a frozen dataclass whose docstring gains an `Args:`
    section written from its fields' docs and defaults."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    lines = [inspect.cleandoc(cls.__doc__ or ""), "", "Args:"]
    for field in dataclasses.fields(cls):
        text = f"{field.name}: {field.metadata['doc']} Defaults to `{field.default!r}`."
        lines.extend(
            textwrap.wrap(
                text, width=76, initial_indent="    ", subsequent_indent="        "
            )
        )
    cls.__doc__ = "\n".join(lines)
    return cls


def option_names(cls):
    """The field names of an option group, in order."""
    return tuple(field.name for field in dataclasses.fields(cls))


def gather_options(where, groups, flat):
    """Builds each option group from its given instance (or the defaults)
    and the flat keywords that name its fields; a flat keyword overrides
    the instance's field.

    Args:
        where: str. The function, for messages (`"train"`).
        groups: dict. `{argument name: (group class, instance or None)}`.
        flat: dict. The flat keywords (the 0.1 calling form).

    Returns:
        `{argument name: group instance}`.

    Raises:
        TypeError: an unknown keyword (with close matches), or a group
            argument of the wrong type.
    """
    owner = {
        name: arg for arg, (cls, _) in groups.items() for name in option_names(cls)
    }
    unknown = sorted(set(flat) - set(owner))
    if unknown:
        close = close_matches(unknown[0], owner)
        raise TypeError(
            f"{where}() got an unexpected keyword argument {unknown[0]!r}"
            + (f"; did you mean {' or '.join(map(repr, close))}?" if close else "")
            + f" Allowed option keywords: {', '.join(sorted(owner))}."
        )
    built = {}
    for arg, (cls, given) in groups.items():
        if given is not None and not isinstance(given, cls):
            raise TypeError(
                f"`{arg}` must be a {cls.__name__} or None; received {given!r} "
                f"of type {type(given).__name__}."
            )
        mine = {name: value for name, value in flat.items() if owner[name] == arg}
        built[arg] = dataclasses.replace(given or cls(), **mine)
    return built


def option_settings(*groups):
    """`{name: value}` of the fields marked `setting` across `groups`.

    Args:
        *groups: option group instances.
    """
    return {
        field.name: getattr(group, field.name)
        for group in groups
        for field in dataclasses.fields(group)
        if field.metadata.get("setting")
    }
