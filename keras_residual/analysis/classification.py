"""A classifier's predictions read per class: precision, recall and F1,
top-1 and top-k accuracy, the confusion matrix, and the images it gets
most wrong, as JSON-ready data and PNG plots (confusion matrix, image
grid)."""

import numpy as np

from keras_residual.analysis.plots import pyplot
from keras_residual.analysis.plots import save_figure


def classification_report(labels, probabilities, class_names=None, top_k=5):
    """Per-class and overall figures of a classifier's predictions.

    Args:
        labels: array of int. The true class of each example.
        probabilities: array. `(examples, classes)` scores; the highest is
            the prediction.
        class_names: sequence of str or None. A name per class. Defaults to
            the class indices.
        top_k: int. k of the top-k accuracy (at most the class count).
            Defaults to `5`.

    Returns:
        dict: `top1`, `top{k}`, `macro_f1`, `classes` (a row per class:
        `name`, `precision`, `recall`, `f1`, `support`) and `confusion`
        (`confusion[true][predicted]` counts).
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(
            f"`probabilities` must be (examples, classes) with one row per "
            f"label; received shape {probabilities.shape} for {len(labels)} labels."
        )
    count = probabilities.shape[1]
    names = list(class_names) if class_names else [str(i) for i in range(count)]
    if len(names) != count:
        raise ValueError(f"`class_names` has {len(names)} names for {count} classes.")
    predicted = probabilities.argmax(-1)
    confusion = np.zeros((count, count), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    k = max(1, min(int(top_k), count))
    top = np.argsort(-probabilities, axis=-1)[:, :k]
    rows = []
    for index, name in enumerate(names):
        hits = confusion[index, index]
        claimed, support = confusion[:, index].sum(), confusion[index].sum()
        precision = hits / claimed if claimed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        rows.append(
            {
                "name": name,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1),
                "support": int(support),
            }
        )
    present = [row for row in rows if row["support"]]
    return {
        "examples": int(len(labels)),
        "top1": float((predicted == labels).mean()) if len(labels) else 0.0,
        f"top{k}": float((top == labels[:, None]).any(-1).mean())
        if len(labels)
        else 0.0,
        "macro_f1": float(np.mean([r["f1"] for r in present])) if present else 0.0,
        "classes": rows,
        "confusion": confusion.tolist(),
    }


def most_wrong(labels, probabilities, count=16):
    """The examples with the lowest probability on their true class,
    worst first, among those predicted wrongly.

    Args:
        labels: array of int. True classes.
        probabilities: array. `(examples, classes)` scores.
        count: int. At most this many. Defaults to `16`.

    Returns:
        list of dict: `index`, `label`, `predicted`, `confidence` (the
        predicted class's probability), `true_probability`.
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(-1)
    true_probability = probabilities[np.arange(len(labels)), labels]
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(true_probability[wrong], kind="stable")][:count]
    return [
        {
            "index": int(i),
            "label": int(labels[i]),
            "predicted": int(predicted[i]),
            "confidence": float(probabilities[i, predicted[i]]),
            "true_probability": float(true_probability[i]),
        }
        for i in order
    ]


def plot_confusion_matrix(confusion, class_names, path, title="Confusion matrix"):
    """Writes the confusion matrix as a PNG heat map with class names and
    counts; rows are true classes, columns predictions.

    Args:
        confusion: array. `(classes, classes)` counts.
        class_names: sequence of str. A name per class.
        path: str. The PNG file.
        title: str. Defaults to `"Confusion matrix"`.
    """
    plt = pyplot()
    confusion = np.asarray(confusion)
    count = len(confusion)
    side = max(4.0, 0.55 * count + 2)
    figure, axis = plt.subplots(figsize=(side, side))
    totals = np.maximum(confusion.sum(1, keepdims=True), 1)
    axis.imshow(confusion / totals, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(count))
    axis.set_yticks(range(count))
    axis.set_xticklabels(class_names, rotation=90, fontsize=8)
    axis.set_yticklabels(class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if count <= 30:
        for row in range(count):
            for column in range(count):
                share = confusion[row, column] / totals[row, 0]
                axis.text(
                    column,
                    row,
                    str(confusion[row, column]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share > 0.5 else "black",
                )
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_image_grid(images, captions, path, title="Most wrong"):
    """Writes images in a grid, each with its caption, as a PNG.

    Args:
        images: sequence of arrays. `(height, width)` or `(height, width,
            channels)` uint8 or [0, 1] float images.
        captions: sequence of str. One per image.
        path: str. The PNG file.
        title: str. Defaults to `"Most wrong"`.
    """
    plt = pyplot()
    count = max(1, len(images))
    columns = min(4, count)
    rows = -(-count // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.4 * columns, 2.6 * rows), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, captions):
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        axis.imshow(image, cmap="gray" if image.ndim == 2 else None)
        axis.set_title(caption, fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)
