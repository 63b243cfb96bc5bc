"""Packages whose `__init__` only re-exports names, imported when first
used: `import keras_residual.serving.onnx_predictor` then loads no more
than that module needs (the command line's light commands rely on it)."""

import importlib
import sys


def lazy_exports(package, exports, fallback=None):
    """`(__getattr__, __dir__)` for package `package`, whose names
    `exports` maps to the modules that define them (a name that is itself
    a subpackage, `package.name`, is that module).

    Args:
        package: str. The package's `__name__`.
        exports: dict. `{name: module}`.
        fallback: callable or None. `fallback(name)` answers a name not in
            `exports` (e.g. a moved 0.1 name). Defaults to `None`
            (`AttributeError`).
    """

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            if fallback is not None:
                return fallback(name)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = importlib.import_module(module)
        if module != f"{package}.{name}":
            value = getattr(value, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


def import_exports(package):
    """Imports every name of `package.__all__` now, and those of an
    exported subpackage (registering whatever Keras objects their modules
    define).

    Args:
        package: str. An imported package's `__name__`.
    """
    module = sys.modules[package]
    for name in module.__all__:
        value = getattr(module, name)
        if getattr(value, "__name__", None) == f"{package}.{name}" and hasattr(
            value, "__all__"
        ):  # an exported subpackage: its names too
            import_exports(value.__name__)
