"""Old names that keep working: renamed keyword arguments and moved
top-level names, each with a `FutureWarning` (shown by default) that
names the replacement."""

import importlib
import importlib.abc
import importlib.machinery
import warnings

_WARNED = set()


def warn_once(key, message, stacklevel=3):
    """Issues `message` as a `FutureWarning` the first time `key` is seen.

    Args:
        key: hashable. What the warning is about.
        message: str. The warning.
        stacklevel: int. Passed to `warnings.warn`. Defaults to `3`.
    """
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(message, FutureWarning, stacklevel=stacklevel)


def renamed_argument(where, old, new, old_value, new_value, default=None):
    """The value of argument `new`, taking `old` (its deprecated name) when
    only that is given, with a warning; both at once is refused.

    Args:
        where: str. The function, for messages (`"load_data"`).
        old: str. The deprecated argument name.
        new: str. The argument's name now.
        old_value: object. What was passed as `old` (`default` if nothing).
        new_value: object. What was passed as `new` (`default` if nothing).
        default: object. The value meaning "not passed". Defaults to `None`.
    """
    if old_value is default:
        return new_value
    if new_value is not default:
        raise TypeError(
            f"{where}() received both `{new}` and its deprecated name `{old}`; "
            f"pass `{new}` only."
        )
    warn_once(
        (where, old),
        f"{where}(): `{old}` is deprecated, pass `{new}` instead.",
        stacklevel=4,
    )
    return old_value


def moved_attribute(module_name, name, moved):
    """Module `__getattr__` body: a name that moved to another module,
    imported from there with a warning (once per name).

    Args:
        module_name: str. The module asked (`"keras_residual"`).
        name: str. The attribute asked.
        moved: dict. `{old name: module it now lives in}`.

    Raises:
        AttributeError: `name` is not a moved name.
    """
    if name not in moved:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    target = moved[name]
    warn_once(
        (module_name, name),
        f"`{module_name}.{name}` moved to `{target}.{name}`; the old name "
        "will be removed in a future version.",
        stacklevel=4,
    )
    return getattr(importlib.import_module(target), name)


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """An import hook for modules that moved: importing an old dotted name
    warns once (`FutureWarning`, naming the new one) and gives the new
    module, so `from keras_residual.serving.presets import save_to_preset`
    (0.2) keeps working without a file at the old place.

    Args:
        moves: dict. `{old dotted name: new dotted name}`.
    """

    def __init__(self, moves):
        self.moves = dict(moves)

    def find_spec(self, fullname, path=None, target=None):
        """The spec of a moved module (None for any other).

        Args:
            fullname: str. The dotted name being imported.
            path: list or None. The parent package's path.
            target: module or None. Unused.
        """
        if fullname not in self.moves:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        """The new module, imported, in place of the old one.

        Args:
            spec: `ModuleSpec`. The old name's spec.
        """
        new = self.moves[spec.name]
        warn_once(
            ("module", spec.name),
            f"`{spec.name}` moved to `{new}`; import it from there "
            "(the old path will be removed in 1.0).",
            stacklevel=6,
        )
        return importlib.import_module(new)

    def exec_module(self, module):
        """Nothing to run: the new module is imported already.

        Args:
            module: module. The new module.
        """


def alias_moved_modules(moves):
    """Installs a `MovedModules` hook for `moves` (once per process).

    Args:
        moves: dict. `{old dotted name: new dotted name}`.
    """
    import sys

    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules(moves))
