"""`RunPlan`: what a `train()` run will do, settled before any data is
read: the recipe, the resolved weights, the preprocessing, the batch size,
the distribution and the run directory, with `run.json`'s settings."""

import dataclasses
import json
import os

from keras_residual.core.front_end import AudioFrontEnd
from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocessing_json
from keras_residual.data.balance import parse_class_weight
from keras_residual.data.load_options import MAX_BATCH_SIZE
from keras_residual.data.loader import is_audio_dataset
from keras_residual.models.weights_request import resolve_weights
from keras_residual.models.zoo import model_spec
from keras_residual.training.distribute import setup_distribution
from keras_residual.training.optimizers import check_ema
from keras_residual.training.recipe_presets import run_recipe
from keras_residual.utils.options import option_settings
from keras_residual.utils.validation import check_int


@dataclasses.dataclass
class RunPlan:
    """A planned `train()` run.

    Args:
        model: str, `ModelSpec` or dict. What to build.
        dataset: object. What `load_data` reads.
        data: `DataOptions`. The data options.
        run: `RunOptions`. The run options.
        recipe: `Recipe`. The resolved recipe (its epochs are the run's).
        pretrained: `WeightsRequest` or None. The resolved `weights`.
        preprocessing: `Preprocessing`. How images are scaled.
        batch_size: int. The global batch size.
        distribution: `Distribution`. The data-parallel set-up.
        run_dir: str. The run directory (absolute).
        artifact_dir: str. Where this process writes (`run_dir` on
            process 0).
        model_overrides: dict. `build()` overrides.
        settings: dict. `run.json`: what a resumed run must match.
    """

    model: object
    dataset: object
    data: object
    run: object
    recipe: object
    pretrained: object
    preprocessing: Preprocessing
    batch_size: int
    distribution: object
    run_dir: str
    artifact_dir: str
    model_overrides: dict
    settings: dict

    @property
    def image_size(self):
        """The size images are resized to: the option, else the weights'."""
        if self.data.image_size is not None:
            return self.data.image_size
        return self.pretrained and self.pretrained.input_size

    @property
    def default_image_size(self):
        """An image folder's size when none is given: the weights', else
        the model's."""
        return (self.pretrained and self.pretrained.input_size) or model_spec(
            self.model, **self.spec_overrides
        ).default_size

    @property
    def spec_overrides(self):
        """The overrides of the model's spec (all but `front_end`)."""
        return {k: v for k, v in self.model_overrides.items() if k != "front_end"}

    def front_end(self, bundle):
        """The audio front end of a model for `bundle` (see
        `DataBundle.front_end`), of the `front_end` override's kind; None
        for images.

        Args:
            bundle: `DataBundle`. The run's data.
        """
        return bundle.front_end(self.model_overrides.get("front_end"))


def plan_run(model, dataset, out, groups, model_overrides, recipe_overrides):
    """Settles a `train()` run's recipe, weights and settings.

    Args:
        model: str, `ModelSpec` or dict. What to build.
        dataset: object. What `load_data` reads.
        out: str. The run directory.
        groups: dict. `{"data": DataOptions, "run": RunOptions,
            "distribution": DistributionOptions}`.
        model_overrides: dict or None. `build()` overrides.
        recipe_overrides: dict or None. Recipe fields.
    """
    data, run = groups["data"], groups["run"]
    if run.ema is not None:
        check_ema(run.ema)
    if run.class_weight is not None:
        parse_class_weight(run.class_weight)  # the form; indices once known
    audio = is_audio_dataset(dataset)
    recipe = run_recipe(run.recipe, run.weights, run.epochs, recipe_overrides, audio)
    pretrained = resolve_weights(model, run.weights)
    preprocessing = as_preprocessing(run.preprocessing)
    if preprocessing is None:
        preprocessing = (pretrained and pretrained.preprocessing) or MODES["tf"]
    batch_size = (
        recipe.batch_size
        if data.batch_size is None
        else check_int("batch_size", data.batch_size, minimum=1, maximum=MAX_BATCH_SIZE)
    )
    settings = {
        "model": model if isinstance(model, str) else _jsonable(model),
        "dataset": dataset if isinstance(dataset, str) else "arrays",
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "batch_size": batch_size,
        **_jsonable(option_settings(data, run)),
        "model_overrides": _jsonable(model_overrides or {}),
        "recipe_overrides": _jsonable(recipe_overrides or {}),
        "weights": pretrained.weights if pretrained else None,
        "preprocessing": preprocessing_json(preprocessing),
    }
    options = groups["distribution"]
    distribution = setup_distribution(
        options.distribute,
        options.coordinator_address,
        options.num_processes,
        options.process_id,
    )
    run_dir = os.path.abspath(out)
    return RunPlan(
        model=model,
        dataset=dataset,
        data=data,
        run=run,
        recipe=recipe,
        pretrained=pretrained,
        preprocessing=preprocessing,
        batch_size=batch_size,
        distribution=distribution,
        run_dir=run_dir,
        artifact_dir=(
            run_dir
            if distribution.is_chief
            else os.path.join(run_dir, f"process-{distribution.process_id}")
        ),
        model_overrides=dict(model_overrides or {}),
        settings=settings,
    )


def _jsonable(value):
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value):
    """JSON of an option value json cannot write: a `Preprocessing`'s
    recorded form, an `AudioFrontEnd`'s config, else a sequence as a list."""
    if isinstance(value, Preprocessing):
        return value.to_json()
    if isinstance(value, AudioFrontEnd):
        return value.get_config()
    return list(value)
