"""The model zoo: the registry and `build()`, preprocessing, feature
pyramids, keras-hub interop, and one module per family. Importing a family
module registers its models."""

# Registration order is the zoo's listing order.
# isort: off
from keras_residual.models import resnet  # noqa: F401
from keras_residual.models import resnet_v2  # noqa: F401
from keras_residual.models import cifar  # noqa: F401
from keras_residual.models import highway  # noqa: F401
from keras_residual.models import densenet  # noqa: F401
from keras_residual.models import resnext  # noqa: F401
from keras_residual.models import senet  # noqa: F401
from keras_residual.models import resnet_d  # noqa: F401
from keras_residual.models import vit  # noqa: F401

# keras-hub backbone families (from_keras_hub / to_keras_hub).
from keras_residual.models import keras_hub_resnet  # noqa: F401
from keras_residual.models import keras_hub_densenet  # noqa: F401
from keras_residual.models import keras_hub_vit  # noqa: F401

# isort: on
from keras_residual.models.create import create_model
from keras_residual.models.discovery import list_models
from keras_residual.models.discovery import list_weights
from keras_residual.models.features import pyramid_model
from keras_residual.models.preprocessing import decode_predictions
from keras_residual.models.preprocessing import preprocess_for
from keras_residual.models.preprocessing import preprocess_input
from keras_residual.models.zoo import MODELS
from keras_residual.models.zoo import build
from keras_residual.models.zoo import get_spec
from keras_residual.models.zoo import register_model
