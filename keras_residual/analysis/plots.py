"""PNG plots: training curves, training-error comparisons and per-block
gradient norms. Matplotlib runs headless (Agg) and files are written
atomically."""

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


def plot_history(rows, path, title="Training curves"):
    """Plots loss and accuracy per epoch (train and validation) to a PNG.

    Args:
        rows: list of dict. History rows with `epoch`, `loss`, `accuracy`,
            `val_loss`, ...
        path: str. The PNG file.
        title: str. Defaults to `"Training curves"`.
    """
    plt = pyplot()
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in rows]
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = [row.get(key) for row in rows]
            if any(v is not None for v in values):
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


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
