"""A trained keras_residual model as a source of weights: a `.keras` file
or a run directory of `train()` read back, and its variables copied into
another model of the same architecture layer by layer."""

import os

from keras_residual.utils.keras_archive import load_keras_model
from keras_residual.utils.strict_parsing import read_json_file
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER
from keras_residual.weights.hdf5 import adapt_input_channels
from keras_residual.weights.value_checks import checked_value

# A run's metrics.json: a few KB.
MAX_METRICS_BYTES = 1 << 20


def load_trained_model(source, argument="RUN_DIR_OR_CHECKPOINT", compile=True):
    """Loads a trained model: what `export` exports and `train(weights=...)`
    fine-tunes from.

    Args:
        source: str. A run directory (its `model.keras`, else
            `checkpoints/best.keras`, and its `metrics.json`) or a `.keras`
            file.
        argument: str. The argument named in error messages. Defaults to
            `"RUN_DIR_OR_CHECKPOINT"`.
        compile: bool. Restore the optimizer and loss too. Defaults to
            `True`.

    Returns:
        `(model, metrics)`, where `metrics` is the run's `metrics.json` or
        None.
    """
    metrics = None
    if os.path.isdir(source):
        candidates = [
            os.path.join(source, "model.keras"),
            os.path.join(source, "checkpoints", "best.keras"),
        ]
        checkpoint = next((c for c in candidates if os.path.isfile(c)), None)
        if checkpoint is None:
            raise ValueError(
                f"{source!r} holds no model.keras or checkpoints/best.keras; "
                "pass a run directory of `keras-residual train` or a .keras "
                "file."
            )
        metrics_path = os.path.join(source, "metrics.json")
        if os.path.lexists(metrics_path):
            metrics = read_json_file(
                metrics_path, "The run's metrics.json", MAX_METRICS_BYTES
            )
            if not isinstance(metrics, dict):
                raise ValueError(
                    f"The run's metrics.json {metrics_path!r} holds a "
                    f"{type(metrics).__name__}, not the object a run writes."
                )
    elif os.path.isfile(source) and source.endswith(".keras"):
        checkpoint = source
    else:
        raise ValueError(
            f"{argument} must be a run directory or a .keras file; received {source!r}."
        )
    return load_keras_model(checkpoint, compile=compile), metrics


def load_keras_source(path):
    """The keras_residual model a `.keras` file or run directory holds, as
    `weights=` names it (not compiled).

    Args:
        path: str. A `.keras` file or a run directory of `train()`.
    """
    source, _ = load_trained_model(path, argument="`weights`", compile=False)
    if not hasattr(source, "spec"):
        raise ValueError(
            f"`weights` {path!r} holds a {type(source).__name__}, not a "
            "keras_residual model; load its weights into a keras_residual "
            "model and save that."
        )
    return source


def copy_weights(source, network, weights):
    """Copies `source`'s variables into `network` layer by layer, by name;
    only the classifier may differ (it is left new), the first convolution
    is adapted to another number of input channels (timm's rule), and
    neither model may have a weighted layer the other lacks. Checks
    everything before assigning anything.

    Args:
        source: `keras.Model`. The trained model.
        network: `keras.Model`. The model to load into.
        weights: str. What the user named, for messages.
    """
    pairs = []
    first = True
    for layer in network.layers:
        if not layer.weights:
            continue
        try:
            origin = source.get_layer(layer.name)
        except ValueError:
            origin = None
        shapes = [tuple(v.shape) for v in layer.weights]
        values = None if origin is None else origin.get_weights()
        if first and values is not None:
            values = adapt_input_channels(values, shapes, layer.name, network.name)
        first = False
        found = None if values is None else [tuple(v.shape) for v in values]
        if found == shapes:
            pairs.append((layer, values))
        elif layer.name != CLASSIFIER_LAYER:
            raise ValueError(
                f"`weights` {weights!r} does not fit {network.name}: its layer "
                f"{layer.name!r} has shapes {found}, the model expects {shapes}. "
                "It belongs to another architecture; nothing was loaded."
            )
    ours = {layer.name for layer in network.layers}
    extra = [
        layer.name
        for layer in source.layers
        if layer.weights and layer.name not in ours
    ]
    if extra:
        raise ValueError(
            f"`weights` {weights!r} does not fit {network.name}: it has layers "
            f"the model lacks ({', '.join(extra[:3])}"
            f"{', ...' if len(extra) > 3 else ''}). It belongs to another "
            "architecture; nothing was loaded."
        )
    pairs = [
        (
            layer,
            [
                checked_value(variable, value, f"{weights!r}: {variable.path!r}")
                for variable, value in zip(layer.weights, values)
            ],
        )
        for layer, values in pairs
    ]
    for layer, values in pairs:
        layer.set_weights(values)
