"""Trains a residual network on recorded speech (the Free Spoken Digit
Dataset) and serves it from raw int16 samples.

The model is a spec of registered blocks built by the one builder with an
audio front end inside it (`AudioFrontEnd`): `log_mel` (a log-mel image
into a 2-D ResNet, SpecAugment while training) or `waveform` (raw samples
into a 1-D ResNet with Dai et al.'s M-series stem). It trains with AdamW,
a warm-up and a cosine decay on `load_data("spoken_digit")` (clips padded
or cropped to 8,192 samples; time shift, gain and noise), then is exported
as a SavedModel whose `serving_default` takes int16 PCM samples at 8 kHz
`(batch, samples)`, and that SavedModel scores the test split.

    export KERAS_RESIDUAL_DATA_DIR=../shared/datasets   # the FSDD archive
    python examples/spoken_digit.py --front-end log_mel --epochs 50
    python examples/spoken_digit.py --holdout-speaker theo   # unheard voice
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_residual as kr
from keras_residual.core.front_end import AudioFrontEnd
from keras_residual.models.speech import speech_spec


def train(args):
    """Trains, exports and scores one model; returns its figures."""
    keras.utils.set_random_seed(args.seed)
    data = kr.load_data(
        "spoken_digit",
        batch_size=args.batch_size,
        holdout_speaker=args.holdout_speaker,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    front_end = AudioFrontEnd(kind=args.front_end, mel_bins=args.mel_bins)
    model = kr.build(
        speech_spec(args.front_end, args.width, block=args.block),
        input_shape=(None,),
        classes=data.classes,
        front_end=front_end,
        class_names=list(data.class_names),
        name=f"{args.front_end}_resnet",
    )
    steps = data.steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, args.epochs * steps, warmup_target=args.learning_rate, warmup_steps=steps
    )
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=0.05),
        kr.ClassificationCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(
        data.train, validation_data=data.validation, epochs=args.epochs, verbose=2
    )
    seconds = time.perf_counter() - started
    exported = kr.export(model, os.path.join(args.out, "saved_model"), overwrite=True)
    return {
        "front_end": args.front_end,
        "mel_bins": args.mel_bins,
        "label_smoothing": args.label_smoothing,
        "holdout_speaker": args.holdout_speaker,
        "parameters": model.count_params(),
        "epochs": args.epochs,
        "train_seconds": round(seconds, 1),
        "served_test_accuracy": served_accuracy(exported, data),
        "test_clips": data.sizes["test"],
    }


def served_accuracy(path, data):
    """Top-1 of the SavedModel's `serving_default` fed int16 test clips."""
    import tensorflow as tf

    serve = tf.saved_model.load(path).signatures["serving_default"]
    right = total = 0
    for clips, labels in data.test:
        samples = tf.cast(tf.round(clips), tf.int16)
        predicted = serve(audio=samples)["top_k_classes"][:, 0].numpy()
        right += int(np.sum(predicted == labels.numpy()))
        total += len(predicted)
    return right / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--front-end", choices=("log_mel", "waveform"), default="log_mel"
    )
    parser.add_argument("--block", default="basic")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--mel-bins", type=int, default=40)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--holdout-speaker", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/spoken_digit")
    args = parser.parse_args(argv)
    figures = train(args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "figures.json"), "w") as handle:
        json.dump(figures, handle, indent=1)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
