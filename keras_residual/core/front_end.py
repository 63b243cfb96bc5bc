"""`AudioFrontEnd`: how raw audio samples become a network's input, inside
the model and recorded in its config, as `Preprocessing` is for images.

A `ResidualModel` built with `front_end=` takes PCM samples
`(batch, samples)` (int16 values, as int16 or float) and runs them through
`PcmScaling`, then either straight into a 1-D network (`"waveform"`) or
through `LogMelSpectrogram` into a 2-D one (`"log_mel"`). Any length serves
(the networks pool globally); training pads or crops to `samples`, and the
model centres a shorter served clip in `samples` (`PadToLength`), so that
it meets the network as training clips did.
"""

import dataclasses

from keras_residual.utils.validation import check_choice
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int
from keras_residual.utils.validation import dataclass_from_config

FRONT_END_KINDS = ("waveform", "log_mel")
# The names `AudioFrontEnd.apply` gives its layers (an int8 export keeps
# them float: `serving.tflite_audio`).
FRONT_END_LAYERS = ("pcm_scaling", "pad_to_length", "log_mel", "spec_augment")
PCM_SCALING, PAD_TO_LENGTH, LOG_MEL, SPEC_AUGMENT = FRONT_END_LAYERS


@dataclasses.dataclass(frozen=True)
class AudioFrontEnd:
    """The audio front end of a model.

    Args:
        kind: str. `"waveform"` (samples into a 1-D network) or
            `"log_mel"` (a log-mel image into a 2-D network). Defaults to
            `"log_mel"`.
        sample_rate: int. Samples per second the model takes. Defaults to
            `8000`.
        samples: int or None. The training length (clips are padded or
            cropped to it; a shorter served clip is centred in it, a
            longer one passes whole); None for any. Defaults to `8192`.
        pcm_scale: float. Multiplies the samples (`1 / 32768`: int16 to
            [-1, 1)). Defaults to `1 / 32768`.
        fft_length: int. Log-mel: samples per FFT window. Defaults to `256`.
        stride: int. Log-mel: samples between windows (16 ms at 8 kHz).
            Defaults to `128`.
        mel_bins: int. Log-mel: mel bands. Defaults to `40`: a 40 x 64
            image per 8,192 samples, what the spoken-digit figures were
            measured with (docs/speech.md).
        spec_augment: bool. Log-mel: SpecAugment's frequency and time
            masks while training (`SpecAugment`). Defaults to `False`: on
            the spoken digits they cost 0.8 points (95.6% after 50 epochs
            against 96.4% after 30 without; docs/speech.md).
    """

    kind: str = "log_mel"
    sample_rate: int = 8000
    samples: int = 8192
    pcm_scale: float = 1 / 32768
    fft_length: int = 256
    stride: int = 128
    mel_bins: int = 40
    spec_augment: bool = False

    def __post_init__(self):
        check_choice("front_end.kind", self.kind, FRONT_END_KINDS)
        check_int("front_end.sample_rate", self.sample_rate, minimum=1)
        if self.samples is not None:
            check_int("front_end.samples", self.samples, minimum=self.fft_length)
        check_float(
            "front_end.pcm_scale", self.pcm_scale, minimum=0.0, min_inclusive=False
        )
        check_int("front_end.fft_length", self.fft_length, minimum=2)
        check_int("front_end.stride", self.stride, minimum=1)
        check_int("front_end.mel_bins", self.mel_bins, minimum=1)

    def get_config(self):
        """The constructor arguments, JSON-ready."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        """The front end of a `get_config()` dict; unknown keys are refused
        with close matches.

        Args:
            config: dict. Constructor arguments.
        """
        return dataclass_from_config(cls, config, "front_end")

    def network_shape(self, samples):
        """The network's input shape for clips of `samples` samples.

        Args:
            samples: int or None. The clip length (None: any).
        """
        if self.kind == "waveform":
            return (samples, 1)
        frames = None if samples is None else -(-samples // self.stride)
        return (self.mel_bins, frames, 1)

    def data_options(self):
        """The `load_data` options that read clips as this front end takes
        them: at its rate, padded or cropped to its training length."""
        return {"sample_rate": self.sample_rate, "clip_samples": self.samples}

    def apply(self, inputs):
        """The network's input from the samples tensor `inputs`.

        Args:
            inputs: tensor. `(batch, samples)` PCM samples.
        """
        from keras_residual.layers.audio import LogMelSpectrogram
        from keras_residual.layers.audio import PadToLength
        from keras_residual.layers.audio import PcmScaling
        from keras_residual.layers.audio import SpecAugment

        # float32 whatever the global policy: the spectrum and its logarithm
        # lose the quiet bands in bfloat16 (and Keras' STFT refuses it); the
        # network's first layer casts to its own compute dtype.
        waveform, exact = self.kind == "waveform", "float32"
        x = PcmScaling(
            self.pcm_scale, channel_axis=waveform, name=PCM_SCALING, dtype=exact
        )(inputs)
        if self.samples is not None:
            x = PadToLength(self.samples, name=PAD_TO_LENGTH, dtype=exact)(x)
        if waveform:
            return x
        x = LogMelSpectrogram(
            sample_rate=self.sample_rate,
            fft_length=self.fft_length,
            stride=self.stride,
            mel_bins=self.mel_bins,
            name=LOG_MEL,
            dtype=exact,
        )(x)
        if self.spec_augment:
            x = SpecAugment(name=SPEC_AUGMENT, dtype=exact)(x)
        return x


def as_front_end(value):
    """An `AudioFrontEnd` from an instance, its config dict, or a kind name;
    None stays None.

    Args:
        value: `AudioFrontEnd`, dict, str or None.
    """
    if value is None or isinstance(value, AudioFrontEnd):
        return value
    if isinstance(value, str):
        return AudioFrontEnd(kind=check_choice("front_end", value, FRONT_END_KINDS))
    return AudioFrontEnd.from_config(value)


def audio_input(front_end, input_shape, input_tensor):
    """`(samples_shape, network_input)` of an audio model: the samples
    `keras.Input` (named `audio`) through `front_end`.

    Args:
        front_end: `AudioFrontEnd`. The front end.
        input_shape: tuple or None. `(samples,)`; None for any length.
        input_tensor: None. An audio model makes its own input.
    """
    import keras  # lazy: the dataclass above reads without Keras

    if input_tensor is not None:
        raise ValueError(
            "`input_tensor` cannot be combined with `front_end`: an audio model "
            "takes PCM samples through its own input; pass `input_shape=(samples,)`."
        )
    if input_shape is None:
        input_shape = (None,)
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 1
        or not (input_shape[0] is None or isinstance(input_shape[0], int))
    ):
        raise ValueError(
            "With `front_end`, `input_shape` is `(samples,)` (or `(None,)` for "
            f"any length); received input_shape={input_shape!r}."
        )
    audio = keras.Input(shape=tuple(input_shape), name="audio")
    return tuple(input_shape), front_end.apply(audio)
