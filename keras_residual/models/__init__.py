"""The model zoo. Importing a family module registers its models."""

from keras_residual.models import resnet  # noqa: F401
from keras_residual.models import resnet_v2  # noqa: F401
from keras_residual.models import cifar  # noqa: F401
from keras_residual.models import highway  # noqa: F401
from keras_residual.models import densenet  # noqa: F401
from keras_residual.models import digits  # noqa: F401  (after the models)
