"""The learning-rate range test (Smith, 2017; fastai's `lr_find`): train
from the initial weights for a few hundred steps while the learning rate
grows exponentially, record each step's loss, and suggest a rate from
where the smoothed loss is lowest.

```python
result = keras_residual.lr_find("ResNet20", "digits", out="lr")
result.suggestion  # also in lr/lr_find.json, with lr/lr_find.png
```
"""

import dataclasses
import math
import os

import keras
import numpy as np

from keras_residual.analysis.plots import plot_lr_find
from keras_residual.data.loader import is_audio_dataset
from keras_residual.data.loader import load_data
from keras_residual.models.zoo import build
from keras_residual.training.options import LRFindOptions
from keras_residual.training.recipe_presets import default_recipe
from keras_residual.training.recipe_presets import get_recipe
from keras_residual.utils.atomic import write_json
from keras_residual.utils.options import check_options
from keras_residual.utils.options import options_argument
from keras_residual.utils.validation import check_float

SMOOTHING = 0.9  # the running average that watches for divergence
DIVERGED = 4.0  # stop once the running average is 4x its lowest


@dataclasses.dataclass
class LRFindResult:
    """What `lr_find` returns.

    Args:
        rates: list of float. The learning rate of each step.
        losses: list of float. Each step's training loss.
        smoothed: list of float. The losses averaged over a centred window
            of about a fifteenth of the steps (a trailing average would lag
            behind the rising rate by decades).
        suggestion: float or None. A tenth of the rate where the smoothed
            loss is lowest (fastai's `lr_min`), at `batch_size`; None when
            the loss never fell.
        steepest: float or None. The rate where the smoothed loss falls
            fastest against log(rate), before its lowest point.
        batch_size: int. The batch size the rates are for.
        recipe_learning_rate: float or None. `suggestion` scaled to the
            recipe's own batch size: the `learning_rate` recipe field that
            gives it (the recipe scales rates linearly with batch size).
        plot: str or None. The PNG, when `out` was given.
    """

    rates: list
    losses: list
    smoothed: list
    suggestion: float
    steepest: float
    batch_size: int
    recipe_learning_rate: float
    plot: str = None

    def to_dict(self):
        return dataclasses.asdict(self)


def lr_find(
    model="ResNet20",
    dataset="digits",
    out=None,
    options=None,
    *,
    model_overrides=None,
    **fields,
):
    """Runs the learning-rate range test with a recipe's optimizer.

    Args:
        model: str, `ModelSpec`, dict or `keras.Model`. A model to build
            for the data, or a built one (its weights are restored
            afterwards). Defaults to `"ResNet20"`.
        dataset: object. See `load_data`. Defaults to `"digits"`.
        out: str or None. A folder for `lr_find.png` and `lr_find.json`.
            Defaults to `None` (no files).
        options: `LRFindOptions` or None. The recipe, batch size, range,
            steps, image size, seed and verbosity. Defaults to
            `LRFindOptions()`.
        model_overrides: dict or None. `build()` overrides. Defaults to
            `None`.
        **fields: any field of `LRFindOptions` by name, as in
            `lr_find("ResNet20", "digits", steps=20)`; it overrides the
            field of `options`.

    Returns:
        An `LRFindResult`.
    """
    options = options_argument("lr_find", LRFindOptions, options, fields)
    check_options(options)
    start, steps = options.start, options.steps
    end = check_float("end", options.end, minimum=start, min_inclusive=False)
    recipe = options.recipe or default_recipe(None, is_audio_dataset(dataset))
    recipe = get_recipe(recipe).replace(schedule="constant", warmup_epochs=0.0)
    batch_size = options.batch_size or recipe.batch_size
    keras.utils.set_random_seed(options.seed)
    data = load_data(
        dataset,
        batch_size=batch_size,
        image_size=options.image_size,
        seed=options.seed,
        **recipe.data_kwargs(),
    )
    network, saved = _network(model, data, model_overrides)
    network.compile(**recipe.compile_kwargs(network, steps, 1, batch_size))
    try:
        rates, losses = _sweep(network, data.train, start, end, steps, options.verbose)
    finally:
        if saved is not None:
            network.set_weights(saved)
    result = _result(rates, losses, batch_size, recipe)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        result.plot = plot_lr_find(
            rates,
            losses,
            result.smoothed,
            result.suggestion,
            os.path.join(out, "lr_find.png"),
        )
        write_json(os.path.join(out, "lr_find.json"), result.to_dict())
    return result


def _network(model, data, overrides):
    """The model to test, and the weights to restore (a given model's)."""
    if isinstance(model, keras.Model):
        return model, model.get_weights()
    overrides = dict(overrides or {})
    front_end = data.front_end(overrides.pop("front_end", None))
    return (
        build(
            model,
            input_shape=data.image_shape if front_end is None else (None,),
            classes=data.classes,
            preprocessing=data.preprocessing,
            front_end=front_end,
            **overrides,
        ),
        None,
    )


def _sweep(network, batches, start, end, steps, verbose):
    """Trains one batch per rate, the rates growing geometrically; stops
    when the smoothed loss diverges."""
    rates = list(np.geomspace(start, end, steps))
    losses = []
    progress = keras.utils.Progbar(
        steps, verbose=verbose, unit_name="step", stateful_metrics=["loss", "rate"]
    )
    stream = _forever(batches)
    for step, rate in enumerate(rates):
        network.optimizer.learning_rate = rate
        batch = next(stream)
        logs = network.train_on_batch(*batch, return_dict=True)
        loss = float(logs["loss"])
        losses.append(loss)
        progress.update(step + 1, [("loss", loss), ("rate", rate)])
        running = _running(losses)
        if not math.isfinite(loss) or (
            step >= 10 and running[-1] > DIVERGED * min(running)
        ):
            break
    if verbose:
        print(f"Stopped at rate {rates[len(losses) - 1]:.3g} ({len(losses)} steps).")
    return rates[: len(losses)], losses


def _forever(dataset):
    """The batches of `dataset` as NumPy arrays (any backend), pass after pass."""
    while True:
        yield from dataset.as_numpy_iterator()


def _running(losses):
    """The bias-corrected exponential moving average of `losses`."""
    average, running = 0.0, []
    for step, loss in enumerate(losses):
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        running.append(average / (1 - SMOOTHING ** (step + 1)))
    return running


def _centred(losses):
    """`losses` averaged over a centred window (narrower at the ends); a
    non-finite loss and what follows it are left out."""
    finite = next(
        (i for i, loss in enumerate(losses) if not math.isfinite(loss)), len(losses)
    )
    values = np.asarray(losses[:finite], dtype="float64")
    half = max(2, len(losses) // 30)
    smoothed = [
        float(values[max(0, i - half) : i + half + 1].mean()) for i in range(finite)
    ]
    return smoothed + [float("nan")] * (len(losses) - finite)


def _result(rates, losses, batch_size, recipe):
    """The suggestions from a sweep's losses."""
    smoothed = _centred(losses)
    finite = [i for i, value in enumerate(smoothed) if math.isfinite(value)]
    suggestion = steepest = None
    if finite:
        lowest = min(finite, key=lambda i: smoothed[i])
        if lowest > 0 and smoothed[lowest] < smoothed[0]:
            suggestion = float(rates[lowest]) / 10.0
            slopes = np.gradient(
                np.array(smoothed[: lowest + 1]), np.log(rates[: lowest + 1])
            )
            steepest = float(rates[int(np.argmin(slopes))])
    return LRFindResult(
        rates=[float(r) for r in rates],
        losses=losses,
        smoothed=smoothed,
        suggestion=suggestion,
        steepest=steepest,
        batch_size=batch_size,
        recipe_learning_rate=(
            None if suggestion is None else suggestion * recipe.batch_size / batch_size
        ),
    )
