"""Audio front-end layers: raw PCM samples in, a network's input out, inside
the model, so that an export takes the samples a microphone gives.

`PcmScaling` turns integer PCM samples (int16 or their float values) into
floats in [-1, 1]; `LogMelSpectrogram` turns a waveform into a log-mel
image through Keras' own `MelSpectrogram`. Both use `keras.ops` only.
"""

import keras
from keras import ops

from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int


@keras.saving.register_keras_serializable(package="keras_residual")
class PcmScaling(keras.layers.Layer):
    """Casts PCM samples `(batch, samples)` to float32 and scales them, with
    a trailing channel axis where `channel_axis` is set.

    Args:
        scale: float. Multiplies the samples (`1 / 32768` maps int16 to
            [-1, 1)). Defaults to `1 / 32768`.
        channel_axis: bool. Append a channel axis: `(batch, samples, 1)`,
            the input of a 1-D network. Defaults to `False`.
    """

    def __init__(self, scale=1 / 32768, channel_axis=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_float("scale", scale, minimum=0.0, min_inclusive=False)
        self.channel_axis = bool(channel_axis)

    def call(self, inputs):
        x = ops.cast(inputs, "float32") * self.scale
        return ops.expand_dims(x, -1) if self.channel_axis else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + ((1,) if self.channel_axis else ())

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "channel_axis": self.channel_axis,
        }


@keras.saving.register_keras_serializable(package="keras_residual")
class PadToLength(keras.layers.Layer):
    """Centres clips `(batch, samples, ...)` shorter than `length` in
    `length` samples of zeros, as training clips were; longer ones pass
    whole. A served clip of any length then meets the network as the
    training clips did (the networks pool globally, so the silence around a
    word counts).

    Args:
        length: int. The training length.
    """

    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        self.length = check_int("length", length, minimum=1)

    def call(self, inputs):
        shape = ops.shape(inputs)
        if isinstance(shape[1], int):  # a known length (JAX, or a fixed input)
            missing = max(self.length - shape[1], 0)
        else:
            missing = ops.maximum(self.length - shape[1], 0)
        left = missing // 2

        def zeros(count):
            return ops.zeros((shape[0], count, *shape[2:]), inputs.dtype)

        return ops.concatenate([zeros(left), inputs, zeros(missing - left)], axis=1)

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        if samples is not None:
            samples = max(samples, self.length)
        return (input_shape[0], samples, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="keras_residual")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveforms `(batch, samples)` in [-1, 1] to log-mel images
    `(batch, mel_bins, frames, 1)`: Keras' `STFTSpectrogram` (a Hann-window
    power spectrum computed as a convolution, so that TFLite and ONNX run
    it), Keras' mel filter bank (`MelSpectrogram.linear_to_mel_weight_matrix`,
    20 Hz to half the sample rate), decibels floored at -100, then
    `(decibels - offset) / scale` so that the values sit near [-1, 1].
    Frames: `ceil(samples / stride)`.

    Args:
        sample_rate: int. Samples per second. Defaults to `8000`.
        fft_length: int. Samples per FFT window. Defaults to `256`.
        stride: int. Samples between windows. Defaults to `64`.
        mel_bins: int. Mel bands. Defaults to `64`.
        offset: float. Subtracted from the decibels. Defaults to `-40.0`.
        scale: float. Divides them next. Defaults to `40.0`.
    """

    def __init__(
        self,
        sample_rate=8000,
        fft_length=256,
        stride=64,
        mel_bins=64,
        offset=-40.0,
        scale=40.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = check_int("sample_rate", sample_rate, minimum=1)
        self.fft_length = check_int("fft_length", fft_length, minimum=2)
        self.stride = check_int("stride", stride, minimum=1)
        self.mel_bins = check_int("mel_bins", mel_bins, minimum=1)
        self.offset = check_float("offset", offset)
        self.scale = check_float("scale", scale, minimum=0.0, min_inclusive=False)
        self.stft = keras.layers.STFTSpectrogram(
            mode="psd",
            frame_length=self.fft_length,
            frame_step=self.stride,
            fft_length=self.fft_length,
            window="hann",
            padding="same",
            name="stft",
            dtype=self.dtype_policy,
        )
        bins = self.fft_length // 2 + 1
        self.mel_weights = ops.convert_to_numpy(
            keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(
                self.mel_bins, bins, self.sample_rate, 20.0, self.sample_rate / 2
            )
        )

    def build(self, input_shape):
        self.stft.build((*input_shape, 1))
        super().build(input_shape)

    def call(self, inputs):
        power = self.stft(ops.expand_dims(inputs, -1))  # (batch, frames, bins)
        mel = ops.matmul(power, ops.convert_to_tensor(self.mel_weights))
        decibels = 10.0 * ops.log10(ops.maximum(mel, 1e-10))
        scaled = (decibels - self.offset) / self.scale
        return ops.expand_dims(ops.transpose(scaled, (0, 2, 1)), -1)

    def compute_output_shape(self, input_shape):
        batch, samples = input_shape
        frames = None if samples is None else -(-samples // self.stride)
        return (batch, self.mel_bins, frames, 1)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "fft_length": self.fft_length,
            "stride": self.stride,
            "mel_bins": self.mel_bins,
            "offset": self.offset,
            "scale": self.scale,
        }


@keras.saving.register_keras_serializable(package="keras_residual")
class SpecAugment(keras.layers.Layer):
    """SpecAugment's masks (Park et al. 2019) on log-mel images
    `(batch, mel_bins, frames, 1)` while training: `frequency_masks` bands
    of up to `frequency_width` mel bins and `time_masks` spans of up to
    `time_width` frames, each at a random place per clip, set to 0 (the
    middle of the scaled decibels). The identity at inference.

    Args:
        frequency_masks: int. Bands masked per clip. Defaults to `2`.
        frequency_width: int. Their greatest width in bins. Defaults to `6`.
        time_masks: int. Spans masked per clip. Defaults to `2`.
        time_width: int. Their greatest width in frames. Defaults to `8`.
        seed: int or None. Seeds the masks. Defaults to `None`.
    """

    def __init__(
        self,
        frequency_masks=2,
        frequency_width=6,
        time_masks=2,
        time_width=8,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.frequency_masks = check_int("frequency_masks", frequency_masks, minimum=0)
        self.frequency_width = check_int("frequency_width", frequency_width, minimum=1)
        self.time_masks = check_int("time_masks", time_masks, minimum=0)
        self.time_width = check_int("time_width", time_width, minimum=1)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        x = inputs
        for axis, count, width in (
            (1, self.frequency_masks, self.frequency_width),
            (2, self.time_masks, self.time_width),
        ):
            for _ in range(count):
                x = ops.where(self._mask(x, axis, width), ops.zeros_like(x), x)
        return x

    def _mask(self, x, axis, width):
        """A random band along `axis` per clip, broadcastable to `x`."""
        batch, size = ops.shape(x)[0], ops.shape(x)[axis]
        shape = [batch, 1, 1, 1]
        span = ops.floor(
            keras.random.uniform(shape, 0, width + 1, seed=self.seed_generator)
        )
        start = ops.floor(
            keras.random.uniform(shape, seed=self.seed_generator)
            * (ops.cast(size, "float32") - span + 1)
        )
        positions = ops.cast(ops.arange(size), "float32")
        positions = ops.reshape(
            positions, [1, -1, 1, 1] if axis == 1 else [1, 1, -1, 1]
        )
        return (positions >= start) & (positions < start + span)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "frequency_masks": self.frequency_masks,
            "frequency_width": self.frequency_width,
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "seed": self.seed,
        }
