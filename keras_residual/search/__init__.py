"""Keras Tuner search over block family, depth and width: the space (built
from the registered search families), the hypermodel with budgets, the
tuners, the results report and `search()`.

The package itself is callable: `keras_residual.search(dataset, out, ...)`
is `keras_residual.search.search(...)`, so the top-level name and the
subpackage (`keras_residual.search.space`, ...) are one object.
"""

import sys
import types

from keras_residual.search.hypermodel import ResidualHyperModel
from keras_residual.search.run import search
from keras_residual.search.space import SearchSpace
from keras_residual.search.space import default_space
from keras_residual.search.space import family_spec
from keras_residual.search.tuners import TUNERS
from keras_residual.search.tuners import configure_distributed_search
from keras_residual.search.tuners import make_tuner


class _CallableSearchModule(types.ModuleType):
    """This package, callable as `search()`."""

    def __call__(self, *args, **kwargs):
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableSearchModule
