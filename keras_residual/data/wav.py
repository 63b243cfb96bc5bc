"""WAV files in, int16 mono samples at a model's rate out: Python's own
`wave` reader (PCM, 8 to 32 bits, any channels), the header checked before
a sample is read, channels averaged and the rate changed by linear
interpolation. No TensorFlow, so `predict` on a clip stays light."""

import os
import stat
import wave

import numpy as np

# A minute at 48 kHz in stereo, 32-bit: more than any clip a keyword model
# hears; a header that promises more is refused before it is read.
MAX_WAV_SAMPLES = 48_000 * 60 * 2
SAMPLE_DTYPES = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}


def read_wav(path, sample_rate):
    """The clip at `path` as int16 mono samples at `sample_rate`.

    Args:
        path: str. A PCM WAV file (8-, 16-, 24- or 32-bit, mono or more
            channels, any rate).
        sample_rate: int. The rate to return it at.

    Raises:
        ValueError: not a regular file, not a PCM WAV file, or longer than
            `MAX_WAV_SAMPLES` samples (each named).
    """
    path = os.fspath(path)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path!r} is not a regular file; expected a WAV file.")
    try:
        with wave.open(path, "rb") as handle:
            channels, width = handle.getnchannels(), handle.getsampwidth()
            rate, frames = handle.getframerate(), handle.getnframes()
            if frames * channels > MAX_WAV_SAMPLES:
                raise ValueError(
                    f"{path!r} holds {frames * channels} samples, over the "
                    f"limit of {MAX_WAV_SAMPLES}; cut it into clips."
                )
            raw = handle.readframes(frames)
    except (wave.Error, EOFError) as error:
        raise ValueError(
            f"{path!r} is not a PCM WAV file ({error}); convert it to 16-bit PCM WAV."
        ) from None
    samples = _as_float(raw, width).reshape(-1, channels).mean(axis=1)
    return resample(samples, rate, sample_rate)


def resample(samples, rate, sample_rate):
    """Samples at `rate` as int16 samples at `sample_rate` (linear
    interpolation; unchanged where the rates are equal).

    Args:
        samples: 1-D array. Values on the int16 scale.
        rate: int. Their rate.
        sample_rate: int. The rate to return.
    """
    if rate == sample_rate and np.asarray(samples).dtype == np.int16:
        return np.asarray(samples)  # already what is asked for
    samples = np.asarray(samples, np.float64)
    if rate != sample_rate and len(samples):
        length = max(1, round(len(samples) * sample_rate / rate))
        times = np.arange(length) * (rate / sample_rate)
        samples = np.interp(times, np.arange(len(samples)), samples)
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def _as_float(raw, width):
    """PCM bytes of `width` bytes per sample as floats on the int16 scale."""
    if width == 3:  # 24-bit: widen each sample to 32 bits
        padded = np.zeros((len(raw) // 3, 4), np.uint8)
        padded[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        return padded.view("<i4").ravel() / 65536.0
    if width not in SAMPLE_DTYPES:
        raise ValueError(f"{width * 8}-bit samples are not PCM WAV that is read here.")
    values = np.frombuffer(raw, SAMPLE_DTYPES[width]).astype(np.float64)
    if width == 1:
        return (values - 128.0) * 256.0
    return values / (65536.0 if width == 4 else 1.0)
