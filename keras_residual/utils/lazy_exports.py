"""Packages whose `__init__` only re-exports names, imported when first
used: `import keras_residual.serving.onnx_predictor` then loads no more
than that module needs (the command line's light commands rely on it)."""

import importlib
import sys


def lazy_exports(package, exports):
    """`(__getattr__, __dir__)` for package `package`, whose names
    `exports` maps to the modules that define them.

    Args:
        package: str. The package's `__name__`.
        exports: dict. `{name: module}`.
    """

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
