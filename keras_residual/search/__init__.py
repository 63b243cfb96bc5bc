"""Keras Tuner search over block family, depth and width: the space (built
from the registered search families), the hypermodel with budgets, the
tuners, the results report and `search()`."""

from keras_residual.search.hypermodel import ResidualHyperModel
from keras_residual.search.run import search
from keras_residual.search.space import SearchSpace
from keras_residual.search.space import default_space
from keras_residual.search.space import family_spec
from keras_residual.search.tuners import TUNERS
from keras_residual.search.tuners import configure_distributed_search
from keras_residual.search.tuners import make_tuner
