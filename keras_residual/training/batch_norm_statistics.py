"""BatchNorm statistics re-estimated on the target data before fine-tuning
(AdaBN, Li et al. 2016; "precise BN", Wu & Johnson 2021).

A pretrained backbone's BatchNorm layers hold the source data's moving
mean and variance. When fine-tuning trains them, each training step
normalises with the *target* batch's statistics instead, so on data that
looks unlike the source (smaller or off-centre objects, inverted
contrast) the network the optimizer sees is not the one the linear probe
was fitted to: the fitted classifier is wrong from the first step, the
first gradients are large, and validation (which uses the stale moving
statistics, updated by 1% a step) reads nonsense for as many epochs as a
small data set needs to move them. Re-estimating the statistics on one
pass over the training data first makes training and inference agree,
and the probe is then fitted to the features that training will see.
"""

import contextlib

import keras


def batch_norm_layers(model):
    """The `BatchNormalization` layers of `model`, nested models included.

    Args:
        model: `keras.Model`. The model.
    """
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layers.append(layer)
        elif isinstance(layer, keras.Model):
            layers.extend(batch_norm_layers(layer))
    return layers


def reestimate_batch_norm(model, dataset, steps):
    """Replaces every BatchNorm layer's moving mean and variance by the
    average of its batch statistics over `steps` batches of `dataset`, each
    computed in training mode (as fine-tuning will compute them). The
    layers' momentum and every other variable are left as they were.

    Args:
        model: `keras.Model`. The model, its BatchNorm layers trainable.
        dataset: `tf.data.Dataset`. Batches of `(images, labels, ...)`.
        steps: int. Batches to read; -1 reads them all.

    Returns:
        int. The number of batches read (0 leaves the statistics alone).
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    seen = 0
    with _settings_restored(layers):
        for layer in layers:
            layer.trainable = True  # a frozen layer normalises with moving statistics
        for batch in dataset.take(steps).as_numpy_iterator():
            # A running average: batch i weighs 1/(i+1), so after n batches
            # each one weighs 1/n.
            for layer in layers:
                layer.momentum = seen / (seen + 1.0)
            model(batch[0], training=True)
            seen += 1
    return seen


@contextlib.contextmanager
def epoch_length_momentum(model, steps_per_epoch):
    """Within the block, each BatchNorm layer's momentum is at most
    `1 - 1/steps_per_epoch`, so that its moving statistics follow the
    weights as they change within about one epoch: at the usual 0.99 a
    data set of 1-2 steps an epoch would validate for tens of epochs with
    statistics of weights long gone. The momenta come back afterwards
    (they are training settings, saved in the layers' configs).

    Args:
        model: `keras.Model`. The model.
        steps_per_epoch: int or None. Optimizer steps per epoch; None
            changes nothing.
    """
    if steps_per_epoch is None:
        yield
        return
    layers = batch_norm_layers(model)
    ceiling = 1.0 - 1.0 / max(int(steps_per_epoch), 1)
    with _settings_restored(layers):
        for layer in layers:
            layer.momentum = min(layer.momentum, ceiling)
        yield


@contextlib.contextmanager
def _settings_restored(layers):
    """Gives each BatchNorm layer of `layers` back its momentum and
    trainable flag when the block ends, however it ends."""
    saved = [(layer.momentum, layer.trainable) for layer in layers]
    try:
        yield
    finally:
        for layer, (momentum, trainable) in zip(layers, saved):
            layer.momentum = momentum
            layer.trainable = trainable
