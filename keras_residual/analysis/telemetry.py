"""Highway gate telemetry: the mean transform-gate activation per block.

Srivastava et al. 2015 (Fig. 2) read a trained highway net through its mean
T(x) per layer: most gates stay near closed (carry) and a few open. These
tools report it, log it with the training history (so `CSVLogger` and a
`TensorBoard` callback placed after `GateTelemetry` record it), and plot it.
"""

import keras
import numpy as np

from keras_residual.analysis.plots import plot_bars

GATE_SUFFIX = "_gate"


def gate_layers(model):
    """Returns `{block name: sigmoid gate layer}` of a model's highway blocks.

    Args:
        model: `keras.Model`. The model.
    """
    gates = {}
    for layer in model.layers:
        if layer.name.endswith(GATE_SUFFIX) and isinstance(
            layer, keras.layers.Activation
        ):
            gates[layer.name[: -len(GATE_SUFFIX)]] = layer
    return gates


def gate_activations(model, images, batch_size=64):
    """Mean transform-gate activation T per highway block on `images`.

    Args:
        model: `keras.Model`. A model with highway blocks.
        images: array. A batch of preprocessed images.
        batch_size: int. Prediction batch size. Defaults to `64`.

    Returns:
        `{block name: mean T}`, in network order, averaged in float32
        under any dtype policy.
    """
    gates = gate_layers(model)
    if not gates:
        raise ValueError(
            f"Model {model.name!r} has no highway gates (layers named "
            f"'{{block}}{GATE_SUFFIX}'); gate telemetry needs a highway block."
        )
    probe = keras.Model(model.input, [g.output for g in gates.values()])
    outputs = probe.predict(images, batch_size=batch_size, verbose=0)
    if len(gates) == 1:
        outputs = [outputs]
    # In float32 whatever the policy: NumPy sums a bfloat16 array in
    # bfloat16, where a large sum stops growing (the mean came out near
    # 2**-12 under mixed_bfloat16 instead of 0.13-0.19).
    return {
        name: float(np.mean(np.asarray(out, dtype=np.float32)))
        for name, out in zip(gates, outputs)
    }


def plot_gate_activations(means, path, title="Mean transform gate T per block"):
    """Writes a PNG bar plot of `{block: mean T}` (as in the paper's
    analysis) and returns its path.

    Args:
        means: dict. `{block: mean T}` from `gate_activations`.
        path: str. The PNG file.
        title: str. Defaults to `"Mean transform gate T per block"`.
    """
    return plot_bars(means, path, ylabel="mean T(x)", title=title, ylim=(0, 1))


class GateTelemetry(keras.callbacks.Callback):
    """Logs the mean gate activation of every highway block each epoch.

    Adds `gate/{block}` entries to the epoch logs, so they reach the
    `History`, `CSVLogger` and a `TensorBoard` callback listed after this
    one; optionally re-draws a PNG plot.

    Args:
        images: array. A fixed batch of preprocessed images to probe with.
        plot_path: str or None. Where to write the PNG after each epoch.
            Defaults to `None`.
    """

    def __init__(self, images, plot_path=None):
        super().__init__()
        self.images = images
        self.plot_path = plot_path
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        means = gate_activations(self.model, self.images)
        self.history.append(means)
        if logs is not None:
            logs.update({f"gate/{name}": value for name, value in means.items()})
        if self.plot_path:
            plot_gate_activations(
                means,
                self.plot_path,
                title=f"Mean transform gate T per block (epoch {epoch + 1})",
            )
