"""Speech: the spoken-digit archive's checks and splits, the audio front ends
inside the model, audio augmentation and int16 serving, on real recordings
(`tests/data/fsdd/`, 100 clips of the Free Spoken Digit Dataset)."""

import glob
import json
import os
import wave

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.core.front_end import AudioFrontEnd
from keras_residual.data import spoken_digit
from keras_residual.data.audio_loader import AudioAugmentation
from keras_residual.layers.audio import LogMelSpectrogram
from keras_residual.layers.audio import SpecAugment
from tests.conftest import TINY
from tests.conftest import run_cli_here

SLICE = os.path.join(os.path.dirname(__file__), "data", "fsdd")


def real_clips(count=6):
    """`count` real recordings of the slice (int16 arrays of their own
    lengths) and their digits."""
    paths = sorted(glob.glob(os.path.join(SLICE, "*.wav")))[:: 100 // count][:count]
    clips = [read_slice_clip(path) for path in paths]
    return clips, [int(os.path.basename(p)[0]) for p in paths]


def read_slice_clip(path):
    """A slice recording's int16 samples (8 kHz, 16-bit, as the archive's)."""
    with wave.open(path) as handle:
        assert handle.getframerate() == 8000 and handle.getsampwidth() == 2
        return np.frombuffer(handle.readframes(handle.getnframes()), "<i2")


def mel_hertz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)  # HTK, as Keras' filter bank


def test_the_log_mel_front_end_puts_a_tone_in_its_band_and_silence_at_the_floor():
    """A 1 kHz tone peaks in the mel band whose centre is nearest 1 kHz
    (centres from the HTK mel scale between 20 Hz and 4 kHz); digital
    silence sits at the -100 dB floor; frames are ceil(samples / stride)."""
    layer = LogMelSpectrogram(sample_rate=8000, fft_length=256, stride=128, mel_bins=40)
    seconds = np.arange(8000) / 8000.0
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * seconds)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(np.stack([tone, np.zeros_like(tone)])))
    assert out.shape == (2, 40, 63, 1)  # ceil(8000 / 128) frames
    low, high = (2595.0 * np.log10(1 + f / 700.0) for f in (20.0, 4000.0))
    centres = mel_hertz(np.linspace(low, high, 42)[1:-1])
    band = out[0, :, 10:50, 0].mean(axis=1)
    assert band.argmax() == np.abs(centres - 1000.0).argmin()
    assert band.max() - np.median(band) > 1.0  # 40 dB: the scale is 40
    np.testing.assert_allclose(out[1], (-100.0 + 40.0) / 40.0)


@pytest.mark.jax
@pytest.mark.parametrize("kind", ["log_mel", "waveform"])
def test_an_audio_model_takes_int16_clips_of_any_length_and_reloads(kind, tmp_path):
    """The front end is in the model and its config: a `.keras` file loaded
    with safe_mode gives the same outputs on real clips of their own
    lengths, fed one by one as int16."""
    model = kr.build(
        "ResNet20", input_shape=(None,), classes=10, front_end=kind, **TINY
    )
    assert model.input_shape == (None, None)
    assert model.get_config()["front_end"]["kind"] == kind
    model.save(tmp_path / "audio.keras")
    loaded = keras.saving.load_model(tmp_path / "audio.keras", safe_mode=True)
    assert loaded.front_end == model.front_end
    clips, _ = real_clips(3)
    assert len({len(clip) for clip in clips}) == 3
    for clip in clips:
        ours = model.predict(clip[None], verbose=0)
        np.testing.assert_allclose(
            loaded.predict(clip[None], verbose=0), ours, atol=1e-6
        )
        assert ours.shape == (1, 10) and abs(ours.sum() - 1) < 1e-5


def test_the_waveform_stem_reduces_by_its_stride_times_its_pool():
    spec = kr.get_spec("ResNet20")
    spec = spec.replace(stem=kr.core.StemSpec("waveform", 16, {"stride": 4, "pool": 4}))
    model = kr.build(spec, input_shape=(None,), front_end="waveform", **TINY)
    stem = keras.Model(model.input, model.get_layer("pool1_pool").output)
    assert stem.predict(np.zeros((1, 8192), "float32"), verbose=0).shape == (1, 512, 16)


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_exports_serve_int16_samples_as_the_model_predicts(tmp_path):
    """SavedModel (`serving_default` takes `audio`: int16 (batch, samples)),
    TFLite and ONNX give the model's probabilities on real clips, through
    their runtimes and through `load_predictor` (as `.keras` does); the card
    records the front end."""
    keras.utils.set_random_seed(0)
    model = kr.build(
        "ResNet20", input_shape=(None,), classes=10, front_end="log_mel", **TINY
    )
    clips, _ = real_clips(2)
    path = kr.export(model, tmp_path / "saved")
    card = json.load(open(os.path.join(path, "model_card.json")))
    assert card["front_end"] == model.front_end.get_config()
    assert "int16" in card["signatures"]["serving_default"]["inputs"]["audio"]
    import tensorflow as tf

    served = tf.saved_model.load(path).signatures["serving_default"]
    tflite = kr.export(model, tmp_path / "m.tflite", "tflite")
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=tflite).get_signature_runner("serving_default")
    for clip in clips:
        expected = model.predict(clip[None], verbose=0)
        out = served(audio=tf.constant(clip[None]))["probabilities"].numpy()
        np.testing.assert_allclose(out, expected, atol=1e-5)
        np.testing.assert_allclose(
            runner(audio=clip[None])["probabilities"], expected, atol=1e-5
        )
    onnxruntime = pytest.importorskip("onnxruntime")
    onnx = kr.export(model, tmp_path / "m.onnx", "onnx")
    session = onnxruntime.InferenceSession(onnx)
    names = [output.name for output in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"audio": clips[0][None]})))
    expected = np.concatenate([model.predict(c[None], verbose=0) for c in clips])
    np.testing.assert_allclose(out["probabilities"], expected[:1], atol=1e-5)
    keras_file = kr.export(model, tmp_path / "m.keras", "keras")
    for export in (path, tflite, onnx, keras_file):
        predictor = kr.load_predictor(export)
        assert predictor.sample_rate == 8000, export
        np.testing.assert_allclose(predictor.predict_clips(clips), expected, atol=1e-5)
    # int8, calibrated on clips: the samples stay int16, the network's
    # tensors are int8 and the front end's stay float.
    int8 = kr.export(
        model, tmp_path / "q.tflite", "tflite", quantize="int8",
        representative_data=spoken_digit.fixed_length(real_clips(20)[0], 8192),
    )  # fmt: skip
    assert os.path.getsize(int8) < 0.7 * os.path.getsize(tflite)
    interpreter = Interpreter(model_path=int8)
    runner = interpreter.get_signature_runner("serving_default")
    assert runner.get_input_details()["audio"]["dtype"] == np.int16
    dtypes = {t["name"]: t["dtype"] for t in interpreter.get_tensor_details()}
    assert {dtypes[n] for n in dtypes if "/stft" in n and "convolution" in n} == {
        np.float32
    }
    assert np.int8 in {dtypes[n] for n in dtypes if "conv2_block1" in n}
    quantized = kr.load_predictor(int8).predict_clips(clips)
    # (Its accuracy against the float model's is a trained net's figure:
    # `python -m benchmarks spoken_digit`; an untrained net's ranks are noise.)
    np.testing.assert_allclose(quantized.sum(-1), 1.0, atol=0.02)
    assert np.abs(quantized - expected).mean() < 0.1
    waveform = kr.build(
        "ResNet20", input_shape=(None,), classes=10, front_end="waveform", **TINY
    )
    with pytest.raises(ValueError, match="not available for a waveform"):
        kr.export(
            waveform, tmp_path / "w.tflite", "tflite", quantize="int8",
            representative_data=spoken_digit.fixed_length(clips, 8192),
        )  # fmt: skip
    assert not os.path.exists(tmp_path / "w.tflite")


def test_the_archive_is_checked_before_tfds_sees_it(tmp_path, monkeypatch):
    """Missing: the message names the file and where to get it. A file of
    its name but another size, or of its size but other bytes, is refused
    by name; nothing is prepared."""
    monkeypatch.delenv(spoken_digit.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(
        ValueError, match=r"free-spoken-digit-dataset-1.0.9.tar.gz.*github"
    ):
        kr.load_data("spoken_digit", data_dir=str(tmp_path))
    archive = tmp_path / spoken_digit.ARCHIVE
    archive.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match=r"has 14 bytes; the FSDD v1.0.9 archive has"):
        spoken_digit.find_archive(str(tmp_path))
    with open(archive, "wb") as handle:
        handle.truncate(spoken_digit.ARCHIVE_BYTES)
    with pytest.raises(ValueError, match=r"does not match the FSDD v1.0.9 sha256"):
        kr.load_data("spoken_digit", data_dir=str(tmp_path))
    assert not os.path.exists(tmp_path / "spoken_digit")


def full_metadata():
    """Labels, speakers and indices of all 2,500 recordings (their names
    follow `{digit}_{speaker}_{index}`)."""
    rows = [
        (digit, speaker, index)
        for digit in range(10)
        for speaker in spoken_digit.SPEAKERS
        for index in range(50)
    ]
    labels, speakers, indices = map(np.array, zip(*rows))
    return {"labels": labels, "speakers": speakers, "indices": indices}


def test_the_splits_follow_the_readme_and_hold_out_a_speaker():
    clips = full_metadata()
    rows = spoken_digit.split_indices(clips, validation_fraction=0.1, seed=3)
    assert sorted(np.concatenate(list(rows.values()))) == list(range(2500))
    assert set(clips["indices"][rows["test"]]) == {0, 1, 2, 3, 4}
    assert len(rows["test"]) == 250 and len(rows["validation"]) == 200
    pairs = {(d, s) for d, s in zip(clips["labels"], clips["speakers"])}
    for label, speaker in pairs:  # 4 of each group's 45 training recordings
        group = (clips["labels"] == label) & (clips["speakers"] == speaker)
        assert group[rows["validation"]].sum() == 4
    again = spoken_digit.split_indices(clips, validation_fraction=0.1, seed=3)
    assert np.array_equal(again["validation"], rows["validation"])
    held = spoken_digit.split_indices(clips, holdout_speaker="theo")
    assert set(clips["speakers"][held["test"]]) == {"theo"}
    assert "theo" not in set(
        clips["speakers"][np.concatenate([held["train"], held["validation"]])]
    )
    with pytest.raises(ValueError, match="Did you mean 'theo'"):
        spoken_digit.split_indices(clips, holdout_speaker="teo")


def test_fixed_length_centres_clips_and_keeps_their_samples():
    clips, _ = real_clips(2)
    short, long = clips[0][:1000], np.concatenate([clips[1], clips[1]])
    out = spoken_digit.fixed_length([short, long], 1500)
    assert out.dtype == np.int16 and out.shape == (2, 1500)
    np.testing.assert_array_equal(out[0, 250:1250], short)
    assert not out[0, :250].any() and not out[0, 1250:].any()
    start = (len(long) - 1500) // 2
    np.testing.assert_array_equal(out[1], long[start : start + 1500])


def test_audio_augmentation_is_seeded_and_keeps_within_its_ranges():
    """Same seed, same clip; a shift within 0.1 s, a gain within 6 dB, and
    noise (on about half the clips) at a signal-to-noise ratio in 15-40 dB."""
    import tensorflow as tf

    clip = tf.constant(spoken_digit.fixed_length(real_clips(1)[0], 4000)[0], tf.float32)
    augmentation = AudioAugmentation(shift_seconds=0.0, gain_db=0.0, speed=0.0)
    seeds = [tf.constant([seed, 7], tf.int64) for seed in range(40)]
    outs = [augmentation.apply(clip, 8000, seed).numpy() for seed in seeds]
    np.testing.assert_array_equal(outs[0], augmentation.apply(clip, 8000, seeds[0]))
    power = float(np.mean(np.square(clip.numpy()))) + 1.0
    ratios = [
        10 * np.log10(power / np.mean(np.square(out - clip.numpy())))
        for out in outs
        if np.any(out != clip.numpy())
    ]
    assert 10 <= len(ratios) <= 30
    assert min(ratios) > 14.5 and max(ratios) < 40.5
    shifted = AudioAugmentation(snr_db=None, gain_db=0.0, speed=0.0)
    for seed in seeds[:10]:
        out = shifted.apply(clip, 8000, seed).numpy()
        lags = [
            k
            for k in range(-800, 801)
            if np.array_equal(np.roll(clip.numpy(), k)[800:-800], out[800:-800])
        ]
        assert len(lags) == 1
    loud = AudioAugmentation(shift_seconds=0.0, snr_db=None, speed=0.0)
    gains = [
        np.abs(loud.apply(clip, 8000, s).numpy()).max() / np.abs(clip).max()
        for s in seeds
    ]
    assert 10 ** (-6 / 20) - 1e-3 <= min(gains) and max(gains) <= 10 ** (6 / 20) + 1e-3


def test_a_speed_change_moves_a_tone_by_its_factor_about_the_centre():
    """A 400 Hz tone played at 1.1x has its peak at 440 Hz (its FFT), a clip
    at 1x is itself, and a faster clip is shorter about its centre (zeros
    at both ends); seeded factors stay within the range."""
    import tensorflow as tf

    from keras_residual.data.audio_loader import change_speed

    t = np.arange(8000) / 8000.0
    tone = (1000 * np.sin(2 * np.pi * 400 * t)).astype("float32")
    window = slice(2000, 6000)  # 4,000 samples: 2 Hz per FFT bin
    for factor in (0.9, 1.1, 1.25):
        out = change_speed(tf.constant(tone), tf.constant(factor)).numpy()
        peak = np.argmax(np.abs(np.fft.rfft(out[window]))) * 2.0
        assert abs(peak - 400 * factor) <= 2.0, (factor, peak)
    np.testing.assert_allclose(change_speed(tf.constant(tone), 1.0).numpy(), tone)
    ramp = np.arange(1, 12, dtype="float32")
    np.testing.assert_allclose(
        change_speed(tf.constant(ramp), 2.0).numpy(),
        [0, 0, 0, 2, 4, 6, 8, 10, 0, 0, 0],
    )
    faster = AudioAugmentation(shift_seconds=0.0, gain_db=0.0, snr_db=None, speed=0.2)
    factors = []
    for seed in range(20):
        out = faster.apply(tf.constant(tone), 8000, tf.constant([seed, 3], tf.int64))
        factors.append(np.argmax(np.abs(np.fft.rfft(out.numpy()[window]))) * 2.0 / 400)
    assert 0.8 - 0.01 <= min(factors) and max(factors) <= 1.2 + 0.01
    assert max(factors) - min(factors) > 0.1  # the factors vary
    with pytest.raises(ValueError, match="speed"):
        AudioAugmentation(speed=0.9)


@pytest.mark.jax
def test_spec_augment_masks_bands_and_spans_only_while_training():
    layer = SpecAugment(frequency_masks=2, frequency_width=6, time_masks=1, seed=4)
    images = np.ones((8, 40, 64, 1), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    masked = keras.ops.convert_to_numpy(layer(images, training=True))[..., 0] == 0
    rows, columns = masked.all(axis=2).sum(axis=1), masked.all(axis=1).sum(axis=1)
    assert rows.max() <= 12 and columns.max() <= 8 and rows.sum() + columns.sum() > 0
    # Every masked value lies in a fully masked band or span.
    assert np.array_equal(
        masked, masked.all(axis=2)[:, :, None] | masked.all(axis=1)[:, None, :]
    )


SHARED = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "..",
    "shared",
    "datasets",
)


def archive_folder():
    """Where the full FSDD archive is: $KERAS_RESIDUAL_DATA_DIR, else the
    workspace's shared datasets folder; None where neither has it."""
    for folder in (os.environ.get(spoken_digit.DATA_DIR_ENV), SHARED):
        if folder and os.path.isfile(os.path.join(folder, spoken_digit.ARCHIVE)):
            return folder
    return None


@pytest.mark.slow
@pytest.mark.skipif(
    archive_folder() is None,
    reason=f"needs the full archive {spoken_digit.ARCHIVE} in $KERAS_RESIDUAL_DATA_DIR",
)
def test_the_training_script_reads_tfds_trains_and_scores_the_served_model(tmp_path):
    """TFDS's real `spoken_digit` builder prepares the local archive into a
    fresh TFDS folder; the script trains one epoch of a narrow net, exports
    it and scores the SavedModel on the 250 test clips fed as int16."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    data_dir = tmp_path / "tfds"
    manual = data_dir / "downloads" / "manual"
    manual.mkdir(parents=True)
    shutil.copy(os.path.join(archive_folder(), spoken_digit.ARCHIVE), manual)
    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "examples",
        "spoken_digit.py",
    )
    done = subprocess.run(
        [
            sys.executable, script, "--epochs", "1", "--width", "8",
            "--mel-bins", "16", "--label-smoothing", "0.1",
            "--data-dir", str(data_dir), "--out", str(tmp_path / "run"),
        ],
        capture_output=True, text=True, timeout=600, env=subprocess_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.load(open(tmp_path / "run" / "figures.json"))
    assert (
        figures["test_clips"] == 250 and 0.0 <= figures["served_test_accuracy"] <= 1.0
    )
    assert (figures["mel_bins"], figures["label_smoothing"]) == (16, 0.1)
    assert (data_dir / "spoken_digit" / "1.0.9").is_dir()  # the ordinary TFDS cache


def write_wav(path, samples, rate, width=2):
    """A PCM WAV of `samples` `(frames, channels)` on the int16 scale."""
    samples = np.asarray(samples, np.float64)
    if width == 1:
        raw = (samples / 256.0 + 128.0).astype(np.uint8).tobytes()
    elif width == 3:
        wide = (samples * 256.0).astype("<i4").view(np.uint8).reshape(-1, 4)
        raw = wide[:, :3].tobytes()
    else:
        raw = samples.astype("<i2").tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(samples.shape[1])
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)


def test_wav_files_of_any_rate_width_and_channels_become_int16_mono(tmp_path):
    from keras_residual.data.wav import read_wav

    (clip,), _ = real_clips(1)
    write_wav(tmp_path / "copy.wav", clip[:, None], 8000)
    np.testing.assert_array_equal(read_wav(tmp_path / "copy.wav", 8000), clip)
    # A 440 Hz tone in stereo at 44.1 kHz (one silent channel): half the
    # amplitude, 8 kHz, the same frequency.
    seconds = np.arange(44100) / 44100.0
    tone = 16000 * np.sin(2 * np.pi * 440.0 * seconds)
    for width in (1, 2, 3):
        write_wav(
            tmp_path / f"{width}.wav", np.stack([tone, 0 * tone], 1), 44100, width
        )
        out = read_wav(tmp_path / f"{width}.wav", 8000).astype(np.float64)
        assert len(out) == 8000
        expected = 8000 * np.sin(2 * np.pi * 440.0 * np.arange(8000) / 8000.0)
        assert np.abs(out - expected).max() < 300  # 8-bit's step is 128
    (tmp_path / "text.wav").write_text("not a wave file")
    with pytest.raises(ValueError, match="is not a PCM WAV file"):
        read_wav(tmp_path / "text.wav", 8000)
    os.mkfifo(tmp_path / "fifo.wav")
    with pytest.raises(ValueError, match="is not a regular file"):
        read_wav(tmp_path / "fifo.wav", 8000)
    huge = bytearray((tmp_path / "copy.wav").read_bytes())
    huge[40:44] = (2**31 - 2).to_bytes(4, "little")  # the data chunk's size
    (tmp_path / "huge.wav").write_bytes(bytes(huge))
    with pytest.raises(ValueError, match="over the limit"):
        read_wav(tmp_path / "huge.wav", 8000)


@pytest.mark.slow  # the shipped model, its three exports and `predict`
def test_the_shipped_spoken_digit_model_names_the_test_clips_in_every_export():
    """`kr.ResNet20(weights="spoken_digit")` builds the manifest's audio
    model and names the slice's 50 test-split recordings (index 0); the
    shipped SavedModel and float32 TFLite give its probabilities, int8 TFLite
    its accuracy within 2 clips; `keras-residual predict` (in this process)
    prints the words."""
    from keras_residual.weights.digits import SPOKEN_DIGIT_WEIGHTS

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    entry = SPOKEN_DIGIT_WEIGHTS["ResNet20"]
    model = kr.ResNet20(weights="spoken_digit")
    assert model.front_end == AudioFrontEnd.from_config(entry["front_end"])
    assert tuple(model.class_names) == spoken_digit.CLASS_NAMES
    paths = sorted(glob.glob(os.path.join(SLICE, "*_0.wav")))
    assert len(paths) == 50  # 5 speakers x 10 digits, all in the test split
    clips = [read_slice_clip(path) for path in paths]
    truth = np.array([int(os.path.basename(p)[0]) for p in paths])
    expected = np.concatenate([np.array(model(c[None])) for c in clips])  # own lengths
    accuracy = float(np.mean(expected.argmax(-1) == truth))
    assert accuracy >= 0.9, accuracy
    exports = {
        "saved_model": entry["saved_model"],
        **{mode: row["file"] for mode, row in entry["tflite"].items()},
    }
    assert set(exports) == {"saved_model", "float32", "int8"}
    for mode, path in exports.items():
        served = kr.load_predictor(os.path.join(root, path)).predict_clips(clips)
        if mode == "int8":
            agree = np.sum(served.argmax(-1) == truth)
            assert abs(agree - accuracy * len(truth)) <= 2, (agree, accuracy)
        else:
            np.testing.assert_allclose(served, expected, atol=1e-4, err_msg=mode)
    saved_model = os.path.join(root, entry["saved_model"])
    done = run_cli_here("predict", saved_model, *paths[:3], "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    best = [answer["top_k"][0] for answer in json.loads(done.stdout)]
    assert [b["name"] for b in best] == [
        spoken_digit.CLASS_NAMES[i] for i in expected[:3].argmax(-1)
    ]
    np.testing.assert_allclose(
        [b["score"] for b in best], expected[:3].max(-1), atol=1e-4
    )


def test_lr_find_on_audio_sweeps_the_speech_recipes_optimizer(tmp_path):
    """Without a recipe, `lr_find` sweeps what `train()` would use: AdamW
    (`speech`) for audio data."""
    model = kr.build(
        "ResNet20", input_shape=(None,), classes=3, front_end="log_mel", **TINY
    )
    folder = wav_folder(tmp_path / "words")
    result = kr.lr_find(model, str(folder), steps=5, batch_size=8, verbose=0)
    assert result.rates[0] == pytest.approx(1e-6)  # the default start
    assert isinstance(model.optimizer, keras.optimizers.AdamW)


def wav_folder(root, digits=(0, 1, 2)):
    """Class sub-folders of the slice's recordings of `digits`, each named
    by its word; the first class re-written at 16 kHz in stereo."""
    for digit in digits:
        folder = root / spoken_digit.CLASS_NAMES[digit]
        folder.mkdir(parents=True)
        for path in sorted(glob.glob(os.path.join(SLICE, f"{digit}_*.wav"))):
            clip = read_slice_clip(path)
            if digit == digits[0]:
                doubled = np.repeat(clip.astype(np.float64), 2)
                write_wav(
                    folder / os.path.basename(path), np.stack([doubled] * 2, 1), 16000
                )
            else:
                write_wav(folder / os.path.basename(path), clip[:, None], 8000)
    return root


@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_a_wav_folder_loads_resampled_trains_and_evaluates_from_its_files(tmp_path):
    """A folder of class sub-folders of WAV files splits per class like an
    image folder, every clip at the model's rate; `train` gives the model a
    front end at that rate and length; `evaluate_export` of its SavedModel
    scores the test split as the WAV files themselves, fed at their own
    lengths, score; the report names the files."""
    from keras_residual.data.wav import read_wav
    from keras_residual.serving.evaluation import evaluate_export

    folder = wav_folder(tmp_path / "words")
    data = kr.load_data(folder, batch_size=8, clip_samples=4096, test_fraction=0.2)
    assert data.sample_rate == 8000 and data.image_shape == (4096,)
    assert data.class_names == ("one", "two", "zero")  # sorted, as Keras does
    assert sum(data.sizes.values()) == 30 and data.sizes["test"] == 6
    clips, labels = next(iter(data.test))
    assert clips.shape[1:] == (4096,) and set(labels.numpy()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="holdout_speaker"):
        kr.load_data(folder, holdout_speaker="theo")
    # The 16 kHz stereo copy reads back as the 8 kHz recording, exactly.
    original = sorted(glob.glob(os.path.join(SLICE, "0_*.wav")))[0]
    copy = folder / "zero" / os.path.basename(original)
    np.testing.assert_array_equal(read_wav(copy, 8000), read_wav(original, 8000))
    front_end = AudioFrontEnd(mel_bins=24, sample_rate=16000)  # the data's rate wins
    kr.train(
        "ResNet20", dataset=str(folder), epochs=1, batch_size=8,
        out=str(tmp_path / "run"), model_overrides={**TINY, "front_end": front_end},
    )  # fmt: skip
    predictor = kr.load_predictor(tmp_path / "run")
    served = predictor.front_end
    assert (served.kind, served.samples, served.sample_rate) == ("log_mel", 8192, 8000)
    assert served.mel_bins == 24
    settings = json.load(open(tmp_path / "run" / "run.json"))
    assert settings["model_overrides"]["front_end"]["mel_bins"] == 24
    assert settings["recipe"] == "speech"  # audio data's default recipe
    test = kr.load_data(folder).files["test"]  # 10% of each class
    clips = [read_wav(path, 8000) for path in test]  # 6,623 samples at most
    truth = [
        ("one", "two", "zero").index(os.path.basename(os.path.dirname(p))) for p in test
    ]
    right = predictor.predict_clips(clips).argmax(-1) == np.array(truth)
    results = evaluate_export(
        str(tmp_path / "run"), str(folder), split="test",
        report=str(tmp_path / "report"),
    )  # fmt: skip
    assert results["examples"] == 3 and results["accuracy"] == right.mean()
    report = json.load(open(tmp_path / "report" / "report.json"))
    assert {row["image"] for row in report["most_wrong"]} <= set(test)
    assert (tmp_path / "report" / "most_wrong.png").is_file()
