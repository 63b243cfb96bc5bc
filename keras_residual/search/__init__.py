"""Keras Tuner search over block family, depth and width: the space (built
from the registered search families), the hypermodel with budgets, the
tuners, the results report and `search()`.

The package itself is callable: `keras_residual.search(dataset, out, ...)`
is `keras_residual.search.search(...)`, so the top-level name and the
subpackage (`keras_residual.search.space`, ...) are one object. Names are
imported when first used, so the command line's option group
(`keras_residual.search.options`) loads without TensorFlow.
"""

import sys
import types

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "ResidualHyperModel": "keras_residual.search.hypermodel",
    "search": "keras_residual.search.run",
    "SearchSpace": "keras_residual.search.space",
    "default_space": "keras_residual.search.space",
    "family_spec": "keras_residual.search.space",
    "TUNERS": "keras_residual.search.options",
    "configure_distributed_search": "keras_residual.search.tuners",
    "make_tuner": "keras_residual.search.tuners",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class _CallableSearchModule(types.ModuleType):
    """This package, callable as `search()`."""

    def __call__(self, *args, **kwargs):
        return self.search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableSearchModule
