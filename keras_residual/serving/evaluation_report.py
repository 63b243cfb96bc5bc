"""`evaluate --report DIR`: what an evaluation writes beside its accuracy:
`report.json` (per-class precision, recall and F1, top-1 and top-5, the
confusion matrix, the most wrong images), `confusion.png` and
`most_wrong.png`, written into a folder the user named."""

import os

import numpy as np

from keras_residual.analysis.classification import classification_report
from keras_residual.analysis.classification import most_wrong
from keras_residual.analysis.classification import plot_confusion_matrix
from keras_residual.analysis.classification import plot_image_grid
from keras_residual.utils.atomic import write_json

REPORT_FILE = "report.json"
WORST_IMAGES = 16


class WorstImages:
    """Keeps the `count` wrongly predicted images with the lowest
    probability on their true class, batch by batch (bounded memory).

    Args:
        count: int. How many to keep. Defaults to `WORST_IMAGES`.
    """

    def __init__(self, count=WORST_IMAGES):
        self.count = count
        self.kept = []  # (true probability, index, pixels)

    def add(self, pixels, labels, probabilities, offset):
        """Considers one batch.

        Args:
            pixels: array. The batch's uint8 images.
            labels: array of int. Their true classes.
            probabilities: array. `(batch, classes)`.
            offset: int. The index of the batch's first image.
        """
        for row in most_wrong(labels, probabilities, self.count):
            index = row["index"]
            self.kept.append((row["true_probability"], offset + index, pixels[index]))
        self.kept = sorted(self.kept, key=lambda item: item[:2])[: self.count]

    def images(self):
        """`{global index: pixels}` of the kept images."""
        return {index: pixels for _, index, pixels in self.kept}


def write_report(directory, labels, probabilities, class_names, worst, images=None):
    """Writes `report.json`, `confusion.png` and `most_wrong.png` into
    `directory` and returns the report.

    Args:
        directory: str. The folder (created if missing).
        labels: array of int. Every true class, in order.
        probabilities: array. `(examples, classes)`.
        class_names: sequence of str or None. A name per class.
        worst: `WorstImages`. The images to show.
        images: sequence of str or None. What each image is (its file, or
            `"DATASET SPLIT[INDEX]"`), in order: each most-wrong row and
            caption names it. Defaults to `None` (`"#INDEX"`).
    """
    probabilities = np.asarray(probabilities)
    names = list(class_names or [str(i) for i in range(probabilities.shape[1])])
    names += [str(i) for i in range(len(names), probabilities.shape[1])]
    report = classification_report(labels, probabilities, names)
    report["class_names"] = names
    images = list(images or [])
    report["most_wrong"] = [
        dict(
            row,
            image=images[row["index"]]
            if row["index"] < len(images)
            else f"#{row['index']}",
            label_name=names[row["label"]],
            predicted_name=names[row["predicted"]],
        )
        for row in most_wrong(labels, probabilities, worst.count)
    ]
    os.makedirs(directory, exist_ok=True)
    plot_confusion_matrix(
        report["confusion"], names, os.path.join(directory, "confusion.png")
    )
    pictures = worst.images()
    rows = [row for row in report["most_wrong"] if row["index"] in pictures]
    plot_image_grid(
        [pictures[row["index"]] for row in rows],
        [
            f"{_short(row['image'])}: {row['label_name']} -> "
            f"{row['predicted_name']} "
            f"({row['confidence']:.2f})"
            for row in rows
        ],
        os.path.join(directory, "most_wrong.png"),
        title="Most wrong (true -> predicted, confidence)",
    )
    write_json(os.path.join(directory, REPORT_FILE), report)
    return report


def clip_pictures(clips, sample_rate):
    """Log-mel pictures of int16 clips `(n, samples)` for the report's
    most-wrong grid: `(n, 40, frames)` floats in [0, 1], low bands at the
    bottom.

    Args:
        clips: int16 array. The clips.
        sample_rate: int. Their rate.
    """
    from keras_residual.layers.audio import LogMelSpectrogram

    spectrum = LogMelSpectrogram(sample_rate, stride=128, mel_bins=40)(
        np.asarray(clips, np.float32) / 32768.0
    )
    spectrum = np.asarray(spectrum)[..., 0][:, ::-1]
    low = spectrum.min(axis=(1, 2), keepdims=True)
    high = spectrum.max(axis=(1, 2), keepdims=True)
    return (spectrum - low) / np.maximum(high - low, 1e-6)


def _short(image):
    """A caption's name for an image: a file's name, else as given."""
    return os.path.basename(image) if os.path.isfile(image) else image
