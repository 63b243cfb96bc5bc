"""PNG plots: training curves, training-error comparisons, per-block
gradient norms and the learning-rate range test. Matplotlib runs headless
(Agg) and files are written atomically."""

import math
import os

from keras_residual.utils.atomic import atomic_path


def pyplot():
    """Matplotlib's pyplot on the headless Agg backend."""
    import matplotlib  # lazy: the backend must be chosen before pyplot loads

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path, dpi=100):
    """Saves `figure` as a PNG at `path` (atomically), closes it and returns
    `path`.

    Args:
        figure: `matplotlib.figure.Figure`. The figure.
        path: str. The PNG file.
        dpi: int. Resolution. Defaults to `100`.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=dpi, format="png")
    pyplot().close(figure)
    return path


def plot_history(
    rows,
    path,
    title="Training curves",
    phase_switch=None,
    best_epoch=None,
    test_accuracy=None,
):
    """Plots loss and accuracy per epoch (train and validation), and the
    learning rate where the rows hold it, to a PNG.

    Args:
        rows: list of dict. History rows with `epoch`, `loss`, `accuracy`,
            `val_loss`, ... and optionally `learning_rate`.
        path: str. The PNG file.
        title: str. Defaults to `"Training curves"`.
        phase_switch: int or None. The last epoch of fine-tuning's first
            phase (the head alone), marked by a dashed line on every panel.
            Defaults to `None`.
        best_epoch: int or None. The epoch whose weights the run kept,
            marked by a dotted line. Defaults to `None`.
        test_accuracy: float or None. Drawn as a star at `best_epoch` (else
            the last epoch) on the accuracy panel. Defaults to `None`.
    """
    plt = pyplot()
    epochs = [row["epoch"] for row in rows]
    rates = [row.get("learning_rate") for row in rows]
    has_rate = any(r is not None and r != "" for r in rates)
    figure, axes = plt.subplots(
        1, 3 if has_rate else 2, figsize=(15 if has_rate else 10, 4)
    )
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = [_number(row.get(key)) for row in rows]
            if any(v is not None for v in values):
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_ylabel(metric)
    if test_accuracy is not None and epochs:
        at = best_epoch if best_epoch is not None else epochs[-1]
        axes[1].plot([at], [test_accuracy], "*", markersize=12, label="test")
    if has_rate:
        axes[2].plot(epochs, [_number(r) for r in rates], marker="o", markersize=3)
        axes[2].set_ylabel("learning rate")
    for axis in axes:
        if phase_switch:
            axis.axvline(
                phase_switch + 0.5, color="gray", linestyle="--", label="head -> all"
            )
        if best_epoch is not None:
            axis.axvline(
                best_epoch, color="tab:green", linestyle=":", label="kept epoch"
            )
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def _number(value):
    """A float, or None for a missing or empty (CSV) value."""
    return None if value is None or value == "" else float(value)


def plot_series(series, path, xlabel, ylabel, title, log_y=False):
    """Plots several named curves on one axis to a PNG.

    Args:
        series: dict. `{label: (xs, ys)}`; labels starting with "plain"
            are dashed.
        path: str. The PNG file.
        xlabel: str. The x-axis label.
        ylabel: str. The y-axis label.
        title: str. The title.
        log_y: bool. Logarithmic y axis. Defaults to `False`.
    """
    return plot_panels({ylabel: series}, path, xlabel, title, log_y)


def plot_panels(panels, path, xlabel, title, log_y=False):
    """Plots panels side by side, each with several named curves, to a PNG.

    Args:
        panels: dict. `{y-axis label: {label: (xs, ys)}}`; curve labels
            starting with "plain" are dashed.
        path: str. The PNG file.
        xlabel: str. The x-axis label.
        title: str. The title.
        log_y: bool. Logarithmic y axes. Defaults to `False`.
    """
    plt = pyplot()
    figure, axes = plt.subplots(
        1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False
    )
    for axis, (ylabel, series) in zip(axes[0], panels.items()):
        for label, (xs, ys) in series.items():
            style = "--" if label.lower().startswith("plain") else "-"
            axis.plot(xs, ys, style, marker="o", markersize=3, label=label)
        if log_y:
            from matplotlib.ticker import ScalarFormatter

            axis.set_yscale("log")
            axis.yaxis.set_major_formatter(ScalarFormatter())  # 10, not 10^1
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        axis.legend()
    if len(panels) == 1:
        axes[0][0].set_title(title)
    else:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_bars(values, path, ylabel, title, ylim=None):
    """A bar per named value, in order, to a PNG.

    Args:
        values: dict. `{name: value}`.
        path: str. The PNG file.
        ylabel: str. The y-axis label.
        title: str. The title.
        ylim: tuple or None. `(low, high)` of the y axis. Defaults to `None`.
    """
    plt = pyplot()
    names = list(values)
    figure, axis = plt.subplots(figsize=(max(6, 0.35 * len(names)), 4))
    axis.bar(range(len(names)), [values[n] for n in names], color="tab:blue")
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=90, fontsize=7)
    if ylim is not None:
        axis.set_ylim(*ylim)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_lr_find(
    rates, losses, smoothed, suggestion, path, title="Learning-rate range test"
):
    """Plots the loss of each step of a learning-rate range test against
    its rate (log axis), the smoothed loss and the suggested rate, to a PNG.

    Args:
        rates: sequence of float. The rate of each step.
        losses: sequence of float. Each step's loss.
        smoothed: sequence of float. The smoothed losses.
        suggestion: float or None. The suggested rate, a vertical line.
        path: str. The PNG file.
        title: str. Defaults to `"Learning-rate range test"`.
    """
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(rates, losses, color="tab:blue", alpha=0.3, label="loss per step")
    axis.plot(rates, smoothed, color="tab:blue", label="smoothed")
    if suggestion is not None:
        axis.axvline(
            suggestion,
            color="tab:red",
            linestyle="--",
            label=f"suggested {suggestion:.2g}",
        )
    axis.set_xscale("log")
    finite = [v for v in list(smoothed) + list(losses) if math.isfinite(v)]
    if finite:  # the divergence at the end would flatten the rest
        low, first = min(finite), next(v for v in smoothed if math.isfinite(v))
        axis.set_ylim(low - 0.05 * abs(low), max(first, low) * 1.3 + 1e-3)
    axis.set_xlabel("learning rate")
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)
