"""Argument checks that raise clear `ValueError`/`TypeError` messages.

Every message names the argument, the value received and what is allowed,
and suggests close matches for unknown names.
"""

import dataclasses
import difflib
import math
import numbers


def close_matches(value, allowed, n=3, cutoff=0.5):
    """Returns up to `n` names from `allowed` that look like `value`.

    Args:
        value: str. The name the user gave.
        allowed: iterable of str. The valid names.
        n: int. Maximum number of suggestions. Defaults to `3`.
        cutoff: float. How alike (difflib's ratio, ignoring case) a name
            must be. Defaults to `0.5`.
    """
    allowed = list(allowed)
    lowered = {name.lower(): name for name in allowed}
    matches = difflib.get_close_matches(
        str(value).lower(), list(lowered), n=n, cutoff=cutoff
    )
    return [lowered[m] for m in matches]


def unknown_name_message(argument, value, allowed, kind="name"):
    """Formats the error message for an unknown registered name.

    Args:
        argument: str. The argument's name.
        value: object. The value received.
        allowed: iterable of str. The registered names.
        kind: str. What the names are, e.g. `"block"`. Defaults to `"name"`.
    """
    allowed = sorted(allowed)
    message = f"Unknown {kind} for `{argument}`: received {value!r}."
    suggestions = close_matches(value, allowed)
    if suggestions:
        message += f" Did you mean {' or '.join(map(repr, suggestions))}?"
    message += f" Allowed values: {', '.join(map(repr, allowed))}."
    return message


def check_choice(argument, value, allowed):
    """Raises `ValueError` unless `value` is one of `allowed`.

    Args:
        argument: str. The argument's name, used in the message.
        value: object. The value received.
        allowed: iterable. The accepted values (`None` may be one of them).
    """
    allowed = tuple(allowed)
    if value in allowed:
        return value
    names = [a for a in allowed if isinstance(a, str)]
    message = f"Invalid `{argument}`: received {value!r}."
    if isinstance(value, str):
        suggestions = close_matches(value, names)
        if suggestions:
            message += f" Did you mean {' or '.join(map(repr, suggestions))}?"
    message += f" Allowed values: {', '.join(map(repr, allowed))}."
    raise ValueError(message)


def check_bool(argument, value):
    """Checks that `value` is a bool.

    Args:
        argument: str. The argument's name, used in the message.
        value: object. The value received.
    """
    if not isinstance(value, bool):
        raise TypeError(f"`{argument}` must be a bool; received {value!r}.")
    return value


def check_int(argument, value, minimum=None, maximum=None):
    """Checks that `value` is an integer within `[minimum, maximum]`.

    Args:
        argument: str. The argument's name, used in the message.
        value: object. The value received.
        minimum: int or None. Smallest allowed value. Defaults to `None`.
        maximum: int or None. Largest allowed value. Defaults to `None`.

    Raises:
        TypeError: if `value` is not an integer (bools are refused).
        ValueError: if it lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{argument}` must be an integer; received {value!r} "
            f"of type {type(value).__name__}."
        )
    _check_range(argument, value, minimum, maximum)
    return int(value)


def check_float(
    argument, value, minimum=None, maximum=None, min_inclusive=True, max_inclusive=True
):
    """Checks that `value` is a finite real number within the given range.

    Args:
        argument: str. The argument's name, used in the message.
        value: object. The value received.
        minimum: float or None. Lower bound. Defaults to `None`.
        maximum: float or None. Upper bound. Defaults to `None`.
        min_inclusive: bool. Whether the lower bound is allowed. Defaults to `True`.
        max_inclusive: bool. Whether the upper bound is allowed. Defaults to `True`.

    Raises:
        TypeError: if `value` is not a real number.
        ValueError: if it is not finite or lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{argument}` must be a number; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if not math.isfinite(value):
        raise ValueError(f"`{argument}` must be finite; received {value!r}.")
    _check_range(argument, value, minimum, maximum, min_inclusive, max_inclusive)
    return float(value)


def _check_range(
    argument, value, minimum, maximum, min_inclusive=True, max_inclusive=True
):
    low_ok = minimum is None or (value >= minimum if min_inclusive else value > minimum)
    high_ok = maximum is None or (
        value <= maximum if max_inclusive else value < maximum
    )
    if low_ok and high_ok:
        return
    low = "-inf" if minimum is None else repr(minimum)
    high = "inf" if maximum is None else repr(maximum)
    brackets = ("[" if min_inclusive else "(", "]" if max_inclusive else ")")
    raise ValueError(
        f"`{argument}` must lie in {brackets[0]}{low}, {high}{brackets[1]}; "
        f"received {value!r}."
    )


def check_int_sequence(argument, value, length=None, minimum=1):
    """Checks a sequence of integers, e.g. per-stage depths or widths.

    Args:
        argument: str. The argument's name.
        value: sequence of int. The value received.
        length: int or None. The required length, if any.
        minimum: int. The smallest allowed element. Defaults to `1`.
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"`{argument}` must be a sequence of integers; received {value!r}."
        )
    if length is not None and len(value) != length:
        raise ValueError(
            f"`{argument}` must have {length} entries (one per stage); "
            f"received {len(value)}: {tuple(value)!r}."
        )
    return tuple(
        check_int(f"{argument}[{i}]", v, minimum=minimum) for i, v in enumerate(value)
    )


def counted(count, noun):
    """`"1 epoch"`, `"30 epochs"`: a count and its noun, plural unless one.

    Args:
        count: int. How many.
        noun: str. The singular noun; the plural adds an `s`.
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def printable(text):
    """`text` safe for a terminal: control characters (escape sequences,
    newlines, carriage returns) are shown escaped, as `\\x1b` or `\\n`,
    instead of acting on the terminal. Printable Unicode is kept.

    Args:
        text: object. Converted with `str()`.
    """
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in str(text)
    )


def first_line(error, limit=200):
    """The first line of `error`'s message, at most `limit` characters, for
    a message that wraps it (`""` when it has none, as `KeyError()`).

    Args:
        error: BaseException or str. The error or its message.
        limit: int. Characters kept. Defaults to `200`.
    """
    return next(iter(str(error).splitlines()), "")[:limit]


def dataclass_from_config(cls, config, what):
    """`cls(**config)` for a dataclass, after refusing a non-dict and
    unknown keys (with close matches).

    Args:
        cls: type. A dataclass.
        config: object. Its constructor arguments, as a dict.
        what: str. What the config describes, for messages, e.g.
            `"preprocessing"`.
    """
    if not isinstance(config, dict):
        raise TypeError(
            f"A {what} config must be a dict; received {type(config).__name__}."
        )
    fields = [field.name for field in dataclasses.fields(cls)]
    for key in config:
        if key not in fields:
            hint = close_matches(key, fields)
            raise ValueError(
                f"Unknown {what} setting {key!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; allowed: {', '.join(fields)}."
            )
    return cls(**config)
