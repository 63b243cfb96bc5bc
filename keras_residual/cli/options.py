"""Command-line flags generated from option groups
(`keras_residual.utils.options`), and the groups read back from them."""

import argparse
import dataclasses


def add_option_flags(parser, group, only=None):
    """Adds a flag per command-line field of `group` to `parser`, under a
    heading of the group's: `--name` (a bool defaulting to True gets
    `--name` and `--no-name`).

    Args:
        parser: `argparse.ArgumentParser`. The sub-command's parser.
        group: type. An option group.
        only: iterable of str or None. Field names to add. Defaults to all
            but those marked `cli=False`.
    """
    title = " ".join(group.__doc__.split("\n\n")[0].split()).rstrip(".")
    parser = parser.add_argument_group(f"{group.__name__}: {title}")
    for field in _cli_fields(group, only):
        meta = field.metadata
        flag = "--" + field.name.replace("_", "-")
        if isinstance(field.default, bool):
            if field.default:  # --name and --no-name
                parser.add_argument(
                    flag,
                    dest=field.name,
                    default=True,
                    action=argparse.BooleanOptionalAction,
                    help=f"On by default: {meta['doc']}",
                )
            else:
                parser.add_argument(
                    flag, dest=field.name, action="store_true", help=meta["doc"]
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
