"""Specs of residual networks for speech, built by the one builder behind an
audio front end (`build(speech_spec(...), input_shape=(None,),
front_end=...)`):

- `"waveform"`: Dai et al. 2017's M-series shape, a 1-D ResNet on raw
  samples: an 80-sample convolution at stride 4 and a max pool of 4
  (`StemSpec("waveform")`), then four stages of `depth` blocks, widths
  doubling from `width`, strides 1/2/2/2;
- `"log_mel"`: a 2-D ResNet on the log-mel image: a 3x3 stem and three
  stages of `depth` blocks, widths doubling from `width`, strides 1/2/2.

Any registered block makes a twin: `"plain"` (no shortcuts), `"resnext"`,
`"preact_basic"`, ...
"""

from keras_residual.blocks.base import get_block
from keras_residual.core.spec import ModelSpec
from keras_residual.core.spec import StageSpec
from keras_residual.core.spec import StemSpec
from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_int

# The M-series stem: 10 ms of 8 kHz audio per filter, then a 16x reduction.
WAVEFORM_STEM = {"kernel": 80, "stride": 4, "pool": 4}


def speech_spec(kind="log_mel", width=32, depth=2, block="basic"):
    """The network behind an audio front end of `kind`.

    Args:
        kind: str. `"log_mel"` (2-D) or `"waveform"` (1-D). Defaults to
            `"log_mel"`.
        width: int. The first stage's width (and the stem's). Defaults to
            `32`.
        depth: int. Blocks per stage. Defaults to `2`.
        block: str. A registered block. Defaults to `"basic"`.
    """
    check_choice("kind", kind, ("log_mel", "waveform"))
    check_int("width", width, minimum=1)
    check_int("depth", depth, minimum=1)
    waveform = kind == "waveform"
    stem = StemSpec("waveform", width, WAVEFORM_STEM) if waveform else None
    strides = (1, 2, 2, 2) if waveform else (1, 2, 2)
    shortcut = get_block(block).shortcuts[0]  # `"none"` for a plain block
    return ModelSpec(
        stem=stem or StemSpec("cifar", width),
        stages=tuple(
            StageSpec(depth, width * 2**i, block, stride=stride, shortcut=shortcut)
            for i, stride in enumerate(strides)
        ),
        use_bias=False,
        bn_momentum=0.9,
        default_size=32,
        min_size=16,
    )
