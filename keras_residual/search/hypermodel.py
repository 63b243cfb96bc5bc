"""`ResidualHyperModel`: a Keras Tuner hypermodel that samples a
`SearchSpace`, builds the spec through the registry, rejects models over
the parameter or FLOP budget before any training, and compiles with the
training recipe."""

import contextlib
import os
import re
import shutil
import time

import keras
import keras_tuner

from keras_residual.analysis.flops import count_flops
from keras_residual.models.zoo import build
from keras_residual.search.space import SearchSpace
from keras_residual.search.space import family_spec
from keras_residual.training.callbacks import NonFiniteLossGuard
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.training.recipe_presets import get_recipe
from keras_residual.utils.validation import check_int

REJECTED = "rejected:"


class ResidualHyperModel(keras_tuner.HyperModel):
    """Samples an architecture and a recipe, builds and compiles it.

    Args:
        space: `SearchSpace`, dict or None. Defaults to `SearchSpace()`.
        input_shape: tuple. Model input shape. Defaults to `(32, 32, 1)`.
        classes: int. Classifier size. Defaults to `10`.
        steps_per_epoch: int. For the learning-rate schedule. Defaults to
            `20`.
        epochs: int. Training epochs per trial (Hyperband's maximum).
            Defaults to `10`.
        recipe: str or `Recipe`. The recipe each trial trains with; its
            learning rate, weight decay and label smoothing are searched.
            Defaults to `"fast"`.
        max_params: int or None. Reject larger models. Defaults to `None`.
        max_flops: int or None. Reject models with more FLOPs (2 x
            multiply-adds per image). Defaults to `None`.
        jit_compile: `"auto"`, True or False. Defaults to `"auto"`.
    """

    def __init__(
        self,
        space=None,
        input_shape=(32, 32, 1),
        classes=10,
        steps_per_epoch=20,
        epochs=10,
        recipe="fast",
        max_params=None,
        max_flops=None,
        jit_compile="auto",
        name="residual_search",
    ):
        super().__init__(name=name, tunable=True)
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        self.input_shape = tuple(input_shape)
        self.classes = check_int("classes", classes, minimum=2)
        self.steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.recipe = get_recipe(recipe)
        self.max_params = (
            None
            if max_params is None
            else check_int("max_params", max_params, minimum=1)
        )
        self.max_flops = (
            None if max_flops is None else check_int("max_flops", max_flops, minimum=1)
        )
        self.jit_compile = jit_compile
        self.timings = {}
        self.current_trial = None
        self.backup_root = None
        self.declaring = False
        self._check_budget_is_reachable()

    def spec_for(self, values):
        """The `ModelSpec` for sampled values (see `SearchSpace.sample`).

        Args:
            values: dict. From `SearchSpace.sample`.
        """
        return family_spec(**values)

    def build_model(self, values, name="trial"):
        """Builds (without compiling) the model for sampled values.

        Args:
            values: dict. From `SearchSpace.sample`.
            name: str. The model name. Defaults to `"trial"`.
        """
        return build(
            self.spec_for(values),
            input_shape=self.input_shape,
            classes=self.classes,
            name=name,
        )

    def budget_violation(self, model):
        """A reason string when `model` is over budget, else None.

        Args:
            model: `keras.Model`. A built model.
        """
        params = model.count_params()
        if self.max_params is not None and params > self.max_params:
            return f"{params:,} parameters > max_params {self.max_params:,}"
        if self.max_flops is not None:
            flops = count_flops(model)
            if flops > self.max_flops:
                return f"{flops:,} FLOPs > max_flops {self.max_flops:,}"
        return None

    @contextlib.contextmanager
    def declaring_only(self):
        """While a tuner is constructed: keras-tuner calls `build` once per
        conditional scope to discover the hyperparameters, and ignores the
        model; sampling declares them, so no model is built."""
        self.declaring = True
        try:
            yield self
        finally:
            self.declaring = False

    def build(self, hp):
        started = time.perf_counter()
        values = self.space.sample(hp)
        if self.declaring:
            return None
        keras.backend.clear_session()
        model = self.build_model(values)
        violation = self.budget_violation(model)
        if violation is not None:
            raise keras_tuner.errors.FailedTrialError(
                f"{REJECTED} over budget before training ({violation})."
            )
        recipe = self.recipe_for(values)
        model.compile(
            **recipe.compile_kwargs(
                model, self.steps_per_epoch, self.epochs, jit_compile=self.jit_compile
            )
        )
        self._timing()["build_seconds"] = time.perf_counter() - started
        return model

    def recipe_for(self, values):
        """The recipe with the sampled learning rate, weight decay and label
        smoothing.

        Args:
            values: dict. From `SearchSpace.sample`.
        """
        return self.recipe.replace(
            epochs=self.epochs,
            learning_rate=values["learning_rate"],
            weight_decay=values["weight_decay"],
            label_smoothing=values["label_smoothing"],
        )

    def fit(self, hp, model, *args, **kwargs):
        """Trains with the tuner's callbacks plus a non-finite-loss guard
        and, when `backup_root` is set, a per-trial `ResumableBackup`: a
        trial cut short by a kill resumes from its last completed epoch
        when the search is rerun (keras-tuner alone restarts it from
        scratch, keras-team/keras-tuner#439)."""
        kwargs.setdefault("epochs", self.epochs)
        callbacks = [*kwargs.get("callbacks", []), NonFiniteLossGuard()]
        backup = None
        if self.backup_root and self.current_trial is not None:
            backup = trial_backup_dir(self.backup_root, self.current_trial)
            callbacks.append(ResumableBackup(backup))
        kwargs["callbacks"] = callbacks
        started = time.perf_counter()
        history = model.fit(*args, **kwargs)
        self._timing()["fit_seconds"] = time.perf_counter() - started
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        return history

    def _timing(self):
        return self.timings.setdefault(self.current_trial or "outside", {})

    def _check_budget_is_reachable(self):
        if self.max_params is None and self.max_flops is None:
            return
        reasons = {}
        for family, corner in self.space.corners().items():
            values = dict(corner, depths=(corner["depth"],) * corner["num_stages"])
            violation = self.budget_violation(self.build_model(values))
            if violation is None:
                return
            reasons[family] = violation
        keras.backend.clear_session()
        details = "; ".join(f"{f}: {r}" for f, r in reasons.items())
        raise ValueError(
            "No model in the search space meets the budget; even the smallest "
            f"model of each family is over it ({details}). Raise max_params/"
            "max_flops or narrow the space to smaller models."
        )


# keras-tuner's trial ids are digits; an oracle on another machine (a
# distributed search) could send anything, and the id becomes a folder that
# is later deleted.
TRIAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def trial_backup_dir(root, trial_id):
    """The backup folder of a trial inside `root`, refusing a trial id that
    is not a plain name (no separators, `..` or control characters).

    Args:
        root: str. The search's backup folder.
        trial_id: str. The oracle's trial id.
    """
    trial_id = str(trial_id)
    if not TRIAL_ID.match(trial_id):
        raise ValueError(
            f"Refusing trial id {trial_id!r} from the oracle: trial ids must "
            "be 1-64 letters, digits, '_' or '-' (it names a folder that is "
            "deleted after the trial)."
        )
    if os.path.islink(root):
        raise ValueError(
            f"The search's backup folder {root!r} is a link (to "
            f"{os.path.realpath(root)!r}); trials write only inside the "
            "search folder."
        )
    root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(root, f"trial_{trial_id}"))
    if os.path.dirname(path) != root:
        raise ValueError(
            f"Trial folder {path!r} would lie outside the search folder {root!r}."
        )
    return path
