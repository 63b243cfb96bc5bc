"""int8 TFLite for audio models: the network quantized, the front end kept
float.

Quantized whole, a log-mel front end is ruined: its STFT (a convolution),
power spectrum and mel projection span 100 dB, which 8 bits cannot hold
(a 94.8% float32 net scored 12.8% on the spoken-digit test split). So the
front end's operations are left float through TFLite's own selective
quantization (`QuantizationDebugger` with `denylisted_nodes`): the samples
stay int16 in, the probabilities float out, and every convolution of the
network behind the front end runs in int8 (94.8% and 96.4%, equal to the
float nets, a third of the size: `python -m benchmarks spoken_digit`).
A waveform net lost 32-53 points even with its stem float, so int8 is
refused for it (`check_audio_int8`).
"""

import numpy as np

from keras_residual.core.front_end import FRONT_END_LAYERS
from keras_residual.serving.endpoints import AUDIO_INPUT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.tflite_runtime import tflite_interpreter


def check_audio_int8(front_end):
    """Refuses int8 for a waveform net: measured on the spoken digits, it
    fell from 86.4% to 33.6% (its front end float, and its stem too), so
    such a file would be wrong, not small.

    Args:
        front_end: `AudioFrontEnd`. The model's front end.

    Raises:
        ValueError: naming the front end and what works instead.
    """
    if front_end.kind == "waveform":
        raise ValueError(
            "`quantize='int8'` is not available for a waveform front end: "
            "the int8 network lost 53 points on the spoken digits (86.4% -> "
            "33.6%). Use quantize='dynamic' or 'float16', or a log_mel front "
            "end, whose int8 export keeps its accuracy."
        )


def front_end_tensors(flatbuffer):
    """The names of the tensors the front end's layers
    (`FRONT_END_LAYERS`) compute in a TFLite model.

    Args:
        flatbuffer: bytes. A float TFLite model.
    """
    details = tflite_interpreter(model_content=flatbuffer).get_tensor_details()
    names = [detail["name"] for detail in details]
    return [n for n in names if any(f"/{layer}" in n for layer in FRONT_END_LAYERS)]


def quantize_audio_int8(saved_model_dir, clips):
    """The `serving_default` signature of an audio model's SavedModel as
    int8 TFLite, calibrated on `clips`, its front end float.

    Args:
        saved_model_dir: str. The serving archive, written out.
        clips: float32 array `(n, samples)` on the int16 scale.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    def converter():
        return tf.lite.TFLiteConverter.from_saved_model(
            saved_model_dir, signature_keys=[SERVE_SIGNATURE]
        )

    def samples():
        for clip in clips:
            yield SERVE_SIGNATURE, {AUDIO_INPUT: np.round(clip[None]).astype("int16")}

    quantized = converter()
    quantized.optimizations = [tf.lite.Optimize.DEFAULT]
    quantized.representative_dataset = samples
    quantized.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ]
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=front_end_tensors(converter().convert())
    )
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=quantized, debug_dataset=samples, debug_options=options
    )
    return debugger.get_nondebug_quantized_model()


def tflite_audio_accuracy(flatbuffer, dataset):
    """Top-1 accuracy of an audio TFLite model's `serving_default` fed a
    batched `(clips, labels)` dataset's clips as int16, one at a time.

    Args:
        flatbuffer: bytes. The converted model.
        dataset: `tf.data.Dataset`. Batched float clips on the int16 scale.
    """
    from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
    from keras_residual.serving.tflite_runtime import run_signature

    runner = tflite_interpreter(model_content=flatbuffer).get_signature_runner(
        SERVE_SIGNATURE
    )
    correct = total = 0
    for clips, labels in dataset.as_numpy_iterator():
        for clip, label in zip(clips, labels):
            samples = np.round(clip[None]).astype("int16")
            output = run_signature(runner, **{AUDIO_INPUT: samples})
            correct += int(np.argmax(output[PROBABILITIES_OUTPUT][0]) == label)
            total += 1
    return correct / max(total, 1)
