"""`python -m keras_residual.cli`: the `keras-residual` command."""

import sys

from keras_residual.cli import main

sys.exit(main())
