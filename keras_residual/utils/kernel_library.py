"""Which CPU kernels TensorFlow runs: oneDNN's or its own (Eigen's).

TensorFlow turns oneDNN on by itself only on Intel CPUs with AVX-512; on
other x86-64 CPUs (an AMD EPYC, a Xeon without AVX-512) it runs Eigen's.
There oneDNN trained ResNet20 and ResNet50 about twice as fast (a 2-core
AMD EPYC, `python -m benchmarks kernel_library`), but it also aborted two
trainings of networks with 4-channel stages (heap corruption after its
`brgconv_strided:avx2` backward pass of a strided convolution), as it
does on AVX-512 ([known issues](../../docs/known-issues.md)). So the
package leaves TensorFlow's choice alone: `TF_ENABLE_ONEDNN_OPTS=1`, set
before TensorFlow loads, opts in. `keras-residual env` says which kernels
run.
"""

import sys

SWITCH = "TF_ENABLE_ONEDNN_OPTS"


def onednn_enabled():
    """Whether the loaded TensorFlow runs oneDNN's kernels (None where
    TensorFlow is not loaded or does not say)."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())
