"""Option groups: frozen dataclasses whose fields carry their own
documentation, command-line flag and run-settings role, so that an option
is written once and the signature's keywords, the docstring, the CLI flags
(`keras_residual.cli.options`) and `run.json` all come from it."""

import dataclasses
import inspect
import textwrap

from keras_residual.utils.validation import check_bool
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import close_matches

# The range keys of an option's metadata (`check_float`'s arguments).
RANGE_KEYS = ("minimum", "maximum", "min_inclusive", "max_inclusive")


def option(default, doc, **metadata):
    """A documented option field.

    Args:
        default: object. The default value (immutable).
        doc: str. One or two sentences for the docstring and `--help`.
        **metadata: how the field is checked and appears elsewhere:
            `choices` (tuple; the flag's choices), `check` (a function of
            the value and the field's name that raises for a bad one; it
            replaces the `choices` check), `minimum`, `maximum`,
            `min_inclusive` and
            `max_inclusive` (a number's range, checked by `check_options`
            for a field annotated `int` or `float`; None passes where the
            default is None), `type_doc` (the type in words, for a field
            annotated `object`), `cli` (False: API only), `flag` (the CLI
            flag; defaults to `--the-name`), `negative_flag` (a bool's
            false flag; defaults to `--no-the-name`), `cli_type` (the
            flag's type when the default is None), `cli_choices` and
            `parse` (a flag whose spelling differs from the value),
            `setting` (True: recorded in `run.json`, and a resumed run must
            match it; `"resolved"`: the same, as the run resolved it, e.g.
            the recipe's epochs for None).
    """
    return dataclasses.field(default=default, metadata=dict(metadata, doc=doc))


def option_group(cls):
    """Class decorator: a frozen dataclass whose docstring gains an `Args:`
    section written from its fields' types, docs and defaults.

    Args:
        cls: type. The class, its fields declared with `option`.
    """
    return with_field_docs(dataclasses.dataclass(frozen=True)(cls))


def with_field_docs(cls):
    """Class decorator: `cls`'s docstring gains an `Args:` section written
    from its (dataclass) fields' types, docs and defaults, as
    `option_group` writes it; for a class that adds methods to a group.

    Args:
        cls: type. The class.
    """
    lines = [inspect.cleandoc(cls.__doc__ or ""), "", "Args:"]
    for field in dataclasses.fields(cls):
        text = (
            f"{field.name}: {type_doc(field)}. {field.metadata['doc']} "
            f"Defaults to `{field.default!r}`."
        )
        lines.extend(
            textwrap.wrap(
                text, width=76, initial_indent="    ", subsequent_indent="        "
            )
        )
    cls.__doc__ = "\n".join(lines)
    return cls


def type_doc(field):
    """An option field's type in words: `int`, `float or None`, ...

    Args:
        field: `dataclasses.Field`. The field.
    """
    kind = field.metadata.get("type_doc")
    if kind is None:
        kind = getattr(field.type, "__name__", str(field.type))
        if field.default is None:
            kind += " or None"
    return kind


def check_options(group):
    """Checks every field of an option group instance against its
    metadata: a choice, a bool, or an int or float within its range (None
    passes where the default is None).

    Args:
        group: an option group instance.

    Raises:
        ValueError or TypeError: naming the field, the value and what is
            allowed.
    """
    for field in dataclasses.fields(group):
        value, meta = getattr(group, field.name), field.metadata
        if value is None and field.default is None:
            continue
        bounds = {key: meta[key] for key in RANGE_KEYS if key in meta}
        if "check" in meta:
            meta["check"](value, field.name)
        elif "choices" in meta:
            check_choice(field.name, value, meta["choices"])
        elif field.type is bool:
            check_bool(field.name, value)
        elif field.type is int:
            check_int(field.name, value, bounds.get("minimum"), bounds.get("maximum"))
        elif field.type is float:
            check_float(field.name, value, **bounds)


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


def options_argument(where, group, given, fields):
    """The `options` argument of a function that takes one option group
    and its fields by name (`load_data(dataset, options=None, **fields)`):
    `given` (or the defaults) with `fields` in place of its own.

    Args:
        where: str. The function, for messages (`"load_data"`).
        group: type. The option group.
        given: instance of `group` or None. The `options` argument.
        fields: dict. The fields given by name.

    Raises:
        TypeError: an unknown field (with close matches), or `given` of
            another type.
    """
    return gather_options(where, {"options": (group, given)}, fields)["options"]


def option_settings(*groups):
    """`{name: value}` of the fields marked `setting` across `groups`.

    Args:
        *groups: option group instances.
    """
    return {
        field.name: getattr(group, field.name)
        for group in groups
        for field in dataclasses.fields(group)
        if field.metadata.get("setting") is True
    }


def setting_names(*groups):
    """The names of the fields of `groups` that `run.json` records (marked
    `setting`, as given or as resolved).

    Args:
        *groups: option group classes.
    """
    return tuple(
        field.name
        for group in groups
        for field in dataclasses.fields(group)
        if field.metadata.get("setting")
    )
