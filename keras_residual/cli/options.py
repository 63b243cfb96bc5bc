"""Command-line flags generated from option groups
(`keras_residual.utils.options`), and the groups read back from them."""

import argparse
import dataclasses


def add_option_flags(parser, group, only=None, overrides=False):
    """Adds a flag per command-line field of `group` to `parser`, under a
    heading of the group's: `--name` (a bool defaulting to True gets
    `--name` and `--no-name`).

    Args:
        parser: `argparse.ArgumentParser`. The sub-command's parser.
        group: type. An option group.
        only: iterable of str or None. Field names to add. Defaults to all
            but those marked `cli=False`.
        overrides: bool. Flags that override another object's fields (a
            recipe's): a flag not given sets nothing (`overrides_from_args`
            reads the given ones), and a bool gets `--name` and its
            negative flag. Defaults to `False`.
    """
    title = " ".join(group.__doc__.split("\n\n")[0].split()).rstrip(".")
    parser = parser.add_argument_group(f"{group.__name__}: {title}")
    for field in _cli_fields(group, only):
        if overrides:
            _add_override_flag(parser, field)
            continue
        meta = field.metadata
        flag = _flag(field)
        if field.type is bool or isinstance(field.default, bool):
            if field.default:  # --name and --no-name
                parser.add_argument(
                    flag,
                    dest=field.name,
                    default=True,
                    action=argparse.BooleanOptionalAction,
                    help=f"On by default: {meta['doc']}",
                )
            else:  # --name sets True; without it, the default (False or None)
                parser.add_argument(
                    flag,
                    dest=field.name,
                    action="store_true",
                    default=field.default,
                    help=meta["doc"],
                )
            continue
        choices = meta.get("cli_choices") or meta.get("choices")
        default = field.default
        if meta.get("cli_choices"):
            default = next(k for k, v in _spellings(meta).items() if v == default)
        parser.add_argument(
            flag,
            dest=field.name,
            default=default,
            type=meta.get("cli_type") or type(field.default),
            choices=choices,
            help=meta["doc"],
        )


def _add_override_flag(parser, field):
    meta, flag = field.metadata, _flag(field)
    if field.type is bool:  # --name sets True, its negative False
        both = parser.add_mutually_exclusive_group()
        for spelling, value in ((flag, True), (_negative_flag(field), False)):
            both.add_argument(
                spelling,
                dest=field.name,
                action="store_const",
                const=value,
                default=argparse.SUPPRESS,
                help=meta["doc"] if value else f"The opposite of {flag}.",
            )
        return
    parser.add_argument(
        flag,
        dest=field.name,
        default=argparse.SUPPRESS,
        type=meta.get("cli_type") or field.type,
        choices=meta.get("choices"),
        help=f"{meta['doc']} Default: the recipe's.",
    )


def overrides_from_args(args, group):
    """`{field: value}` of the override flags of `group` given in `args`.

    Args:
        args: `argparse.Namespace`. Parsed arguments.
        group: type. An option group whose flags `add_option_flags` added
            with `overrides=True`.
    """
    return {
        field.name: getattr(args, field.name)
        for field in _cli_fields(group, None)
        if hasattr(args, field.name)
    }


def _flag(field):
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _negative_flag(field):
    return field.metadata.get("negative_flag") or "--no-" + _flag(field)[2:]


def flag_spellings(field):
    """The flags of a command-line field: `--name`, and for a bool the
    false flag too (`--no-name`, or its `negative_flag`) where it has one.

    Args:
        field: `dataclasses.Field`. An option field.
    """
    if field.type is bool and (field.default or field.metadata.get("negative_flag")):
        return (_flag(field), _negative_flag(field))
    return (_flag(field),)


def options_from_args(args, group, only=None):
    """The `group` instance the parsed `args` describe.

    Args:
        args: `argparse.Namespace`. Parsed arguments.
        group: type. An option group whose flags `add_option_flags` added.
        only: iterable of str or None. As given to `add_option_flags`.
    """
    values = {}
    for field in _cli_fields(group, only):
        value = getattr(args, field.name)
        parse = field.metadata.get("parse")
        values[field.name] = parse(value) if parse else value
    return group(**values)


def _cli_fields(group, only):
    return [
        field
        for field in dataclasses.fields(group)
        if field.metadata.get("cli", True) and (only is None or field.name in only)
    ]


def _spellings(meta):
    return {flag: meta["parse"](flag) for flag in meta["cli_choices"]}
