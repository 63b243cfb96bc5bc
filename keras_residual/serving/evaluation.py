"""Evaluating an exported model (SavedModel, TFLite, ONNX or `.keras`) on
a dataset split, through its serving signatures."""

import os

import keras
import numpy as np

from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import to_pixels
from keras_residual.data.loader import load_data
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import SERVE_SIGNATURE
from keras_residual.serving.evaluation_report import WorstImages
from keras_residual.serving.evaluation_report import clip_pictures
from keras_residual.serving.evaluation_report import write_report
from keras_residual.serving.predictor import load_predictor
from keras_residual.serving.serving_options import SPLITS
from keras_residual.serving.serving_options import EvaluateOptions
from keras_residual.serving.tta import tta_probabilities
from keras_residual.utils.options import check_options
from keras_residual.utils.options import options_argument


def evaluate_export(model_path, dataset="digits", options=None, **fields):
    """Accuracy and cross-entropy of an exported classifier on a split.

    The data is preprocessed with the export's own mode. At the data's
    image size, batches go through `serve_preprocessed`, exactly as in
    training; otherwise (or for an ONNX file, whose one graph is
    `serving_default`) they are turned back into uint8 images and go
    through `serving_default`, which resizes and preprocesses them.

    Args:
        model_path: str. A SavedModel directory, `.tflite`, `.onnx` or `.keras`
            file.
        dataset: str. See `load_data`. Defaults to `"digits"`.
        options: `EvaluateOptions` or None. The split, batch size, data
            directory, verbosity, trust, report folder and test-time
            augmentation. Defaults to `EvaluateOptions()`.
        **fields: any field of `EvaluateOptions` by name, as in
            `evaluate_export(path, "digits", split="all")`; it overrides
            the field of `options`.

    Returns:
        A dict: `accuracy`, `loss`, `examples`, `signature`, `model`,
        `dataset`, `split`, `tta`, `unit` (`"images"` or `"clips"`); with
        `report`, also `top5`, `macro_f1` and
        `report` (the folder).
    """
    options = options_argument("evaluate_export", EvaluateOptions, options, fields)
    check_options(options)
    split, report, tta = options.split, options.report, options.tta
    _check_report_folder(report)
    predictor = load_predictor(model_path, trust=options.trust)
    audio = getattr(predictor, "sample_rate", None) is not None
    if audio and tta != "none":
        raise ValueError(
            f"`tta` ({tta!r}) flips and crops images; {model_path!r} is an "
            "audio model. Use tta='none'."
        )
    data = _load_for(predictor, dataset, options.batch_size, options.data_dir, audio)
    parts, size = _split_parts(data, dataset, split)
    classes = (predictor.card or {}).get("classes")
    if classes is not None and classes < data.classes:
        raise ValueError(
            f"{model_path!r} has {classes} classes; {dataset!r} has {data.classes}."
        )
    exact = not audio and _takes_pipeline_as_is(predictor, data)
    tally = _Tally(keep=report is not None)
    unit = "clip" if audio else "image"
    progress = keras.utils.Progbar(size, verbose=options.verbose, unit_name=unit)
    for batch in (batch for _, part in parts for batch in part):
        images, labels = batch[0].numpy(), batch[1].numpy().reshape(-1)
        pixels = None
        if audio:  # the int16 samples a microphone gives
            clips = np.round(images).astype(np.int16)
            probabilities = predictor.predict_clips(clips)
            if report is not None:  # the report shows their spectrograms
                pixels = clip_pictures(clips, predictor.sample_rate)
        else:
            pixels, probabilities = _image_probabilities(
                predictor, data, images, exact and report is None, exact, tta
            )
        if probabilities.shape[-1] < data.classes:  # a model without a card
            raise ValueError(
                f"{model_path!r} outputs {probabilities.shape[-1]} classes; "
                f"{dataset!r} has {data.classes}."
            )
        tally.add(pixels, labels, probabilities)
        progress.add(len(labels))
    results = dict(
        tally.results(),
        signature=PREPROCESSED_ENDPOINT if exact else SERVE_SIGNATURE,
        model=model_path,
        dataset=dataset,
        split=split,
        tta=tta,
        unit=f"{unit}s",
    )
    if report is not None:
        names = image_names(data, dataset, [name for name, _ in parts])
        results.update(tally.report(os.fspath(report), data.class_names, names))
        results["report"] = report
    return results


def _image_probabilities(predictor, data, images, skip_pixels, exact, tta):
    """`(uint8 pixels or None, probabilities)` of a batch of pipeline
    images: through `serve_preprocessed` as they are where `exact`, else
    turned back into pixels for `serving_default`."""
    pixels = None
    if not skip_pixels:  # undo load_data's preprocessing
        pixels = np.clip(np.round(to_pixels(images, data.preprocessing)), 0, 255)
        pixels = pixels.astype("uint8")
    if exact:
        run, inputs = predictor.predict_preprocessed, images
    else:
        run, inputs = predictor.predict_images, pixels
    return pixels, tta_probabilities(run, inputs, tta)


def _takes_pipeline_as_is(predictor, data):
    """Whether batches can go through `serve_preprocessed` as they are: the
    export's preprocessing and image size are the data pipeline's."""
    return (
        predictor.takes_preprocessed
        and predictor.preprocessing == data.preprocessing
        and tuple(data.image_shape[:2]) == predictor.image_size
    )


def _check_report_folder(report):
    """Refuses a report folder that exists and is not empty (or None)."""
    if report is not None and os.path.exists(report):
        if not os.path.isdir(report) or os.listdir(report):
            raise ValueError(
                f"`report` {report!r} already exists and is not an empty "
                "folder; a report would overwrite what is there. Pass a new "
                "or empty folder."
            )


def _load_for(predictor, dataset, batch_size, data_dir, audio=False):
    """The dataset, preprocessed with the export's mode, at its size; for
    an audio export, at its rate, the clips padded or cropped to the length
    it trained at (the served model pads a shorter clip the same way)."""
    fields = dict(
        batch_size=batch_size,
        augment="none",
        data_dir=data_dir,
        validation_fraction=0.1,
    )
    if audio:
        return load_data(dataset, **predictor.front_end.data_options(), **fields)
    mode = predictor.preprocessing
    return load_data(
        dataset,
        **fields,
        preprocessing=mode if isinstance(mode, Preprocessing) else "tf",
        # A model of unknown channels reads folders as their images are.
        color_mode={1: "grayscale", 3: "rgb"}.get(predictor.channels, "auto"),
        default_image_size=(
            predictor.image_size if None not in predictor.image_size else None
        ),
    )


def _split_parts(data, dataset, split):
    """`([(split name, pipeline)], images)` of the splits `split` reads:
    for `"all"`, the training split in order, then validation and test."""
    if split == "all":
        parts = [
            ("train", data.train_in_order),
            ("validation", data.validation),
            ("test", data.test),
        ]
        size = sum(n for n in data.sizes.values() if n)
    else:
        parts, size = [(split, getattr(data, split))], data.sizes.get(split)
    parts = [(name, part) for name, part in parts if part is not None]
    if not parts:
        raise ValueError(
            f"{dataset!r} has no {split!r} split; choose one of "
            f"{[s for s in SPLITS if s == 'all' or getattr(data, s) is not None]}."
        )
    return parts, size


class _Tally:
    """Accuracy and cross-entropy over batches; with `keep`, the labels,
    probabilities and most wrong images a report needs."""

    def __init__(self, keep):
        self.keep, self.correct, self.loss, self.seen = keep, 0, 0.0, 0
        self.labels, self.probabilities, self.worst = [], [], WorstImages()

    def add(self, pixels, labels, probabilities):
        """Counts one batch.

        Args:
            pixels: uint8 array or None. The images (for the report).
            labels: int array. The true classes.
            probabilities: float array. The model's, `(batch, classes)`.
        """
        picked = probabilities[np.arange(len(labels)), labels]
        self.correct += int((probabilities.argmax(-1) == labels).sum())
        self.loss += float(-np.log(np.maximum(picked, 1e-7)).sum())
        if self.keep:
            self.labels.append(labels)
            self.probabilities.append(probabilities)
            self.worst.add(pixels, labels, probabilities, self.seen)
        self.seen += len(labels)

    def results(self):
        """`accuracy`, `loss` (mean cross-entropy) and `examples`."""
        return {
            "accuracy": self.correct / self.seen,
            "loss": self.loss / self.seen,
            "examples": self.seen,
        }

    def report(self, folder, class_names, names):
        """Writes the report into `folder`; returns its top-k and macro F1.

        Args:
            folder: str. The report folder.
            class_names: sequence of str. The classes' names.
            names: list of str or None. Each image's name, in order.
        """
        figures = write_report(
            folder,
            np.concatenate(self.labels),
            np.concatenate(self.probabilities),
            class_names,
            self.worst,
            names,
        )
        top_k = next(key for key in figures if key.startswith("top") and key != "top1")
        return {top_k: figures[top_k], "macro_f1": figures["macro_f1"]}


def image_names(data, dataset, splits):
    """What each evaluated image is, in the order it was read: its file
    (an image folder), else `"DATASET SPLIT[INDEX]"` (TFDS, arrays, the
    embedded sets); None when a split's size is unknown (the report then
    says `#INDEX`, since later splits' indices would be off).

    Args:
        data: `DataBundle`. Its `files` and `sizes`.
        dataset: str or other. The dataset as the user named it.
        splits: list of str. The splits read, in order.
    """
    label = dataset if isinstance(dataset, str) else "arrays"
    names = []
    for split in splits:
        files = (data.files or {}).get(split)
        if files is not None:
            names += list(files)
        elif data.sizes.get(split) is None:
            return None
        else:
            names += [f"{label} {split}[{i}]" for i in range(data.sizes[split])]
    return names
