"""The architecture search space: block family, depth, width, family-specific
and recipe hyperparameters, declared on a `keras_tuner.HyperParameters`.

The families and their own hyperparameters come from the search families
the block modules register (`keras_residual.blocks.register_search_family`),
so a new family joins the space without any change here.

Each entry of a space is one of:

- a scalar: fixed (`hp.Fixed`);
- a list: a choice (`hp.Choice`);
- `{"min": a, "max": b}` (optionally `"step"`, `"sampling": "log"`): an
  `hp.Int` when both bounds are ints, else an `hp.Float`.

Users narrow or fix any entry from code (`SearchSpace(overrides)`) or a JSON
or YAML file (`SearchSpace.from_file(path)`).
"""

import json
import math
import numbers
import os

import yaml

from keras_residual.blocks.search_family import SEARCH_FAMILIES
from keras_residual.blocks.search_family import get_search_family
from keras_residual.core.spec import ModelSpec
from keras_residual.models.cifar import CIFAR_FIELDS
from keras_residual.utils.files import check_regular_file
from keras_residual.utils.strict_parsing import load_json
from keras_residual.utils.strict_parsing import load_yaml
from keras_residual.utils.validation import unknown_name_message

# The network's shape, shared by every family.
# A search space is a few lines; anything larger is not one.
MAX_SPACE_BYTES = 1024 * 1024
SHAPE_SPACE = {
    "num_stages": [3],
    "depth": {"min": 1, "max": 4},
    "base_width": [16, 24, 32],
}
# Training hyperparameters, shared by every family.
TRAINING_SPACE = {
    "drop_path_rate": {"min": 0.0, "max": 0.2},
    "learning_rate": {"min": 0.02, "max": 0.2, "sampling": "log"},
    "weight_decay": {"min": 1e-5, "max": 1e-3, "sampling": "log"},
    "label_smoothing": {"min": 0.0, "max": 0.1},
}


def family_parameters():
    """Returns `{hyperparameter: [families]}`: which registered families
    sample each family-specific hyperparameter."""
    owners = {}
    for name, family in SEARCH_FAMILIES.items():
        for parameter in family.parameters:
            if (
                parameter == "family"
                or parameter in SHAPE_SPACE
                or parameter in TRAINING_SPACE
            ):
                raise ValueError(
                    f"Search family {name!r} declares the hyperparameter "
                    f"{parameter!r}, which every family shares; rename it."
                )
            owners.setdefault(parameter, []).append(name)
    return owners


def default_space():
    """The full default space: every registered family, the shape entries,
    each family's own hyperparameters (the first family to declare a name
    gives its default entry) and the training entries."""
    space = {"family": SEARCH_FAMILIES.names(), **SHAPE_SPACE}
    family_parameters()  # checks the names
    for _, family in SEARCH_FAMILIES.items():
        for parameter, entry in family.parameters.items():
            space.setdefault(parameter, entry)
    space.update(TRAINING_SPACE)
    return space


class SearchSpace:
    """A checked search space: `default_space()` with `overrides` applied.

    Args:
        overrides: dict or None. Entries to replace (see the module doc).
            Unknown names raise `ValueError` with close matches.
    """

    def __init__(self, overrides=None):
        overrides = dict(overrides or {})
        defaults = default_space()
        for name in overrides:
            if name not in defaults:
                raise ValueError(
                    unknown_name_message(
                        "search space entry", name, defaults, "hyperparameter"
                    )
                )
        self.entries = {
            name: _check_entry(name, overrides.get(name, default))
            for name, default in defaults.items()
        }
        for family in _values(self.entries["family"]):
            get_search_family(family)
        self.owners = family_parameters()
        for name in SHAPE_SPACE:
            if _minimum(self.entries[name]) < 1:
                raise ValueError(
                    f"Search space entry {name!r} must be >= 1; received "
                    f"{self.entries[name]!r}."
                )
        for family, corner in self.corners().items():
            try:
                family_spec(depths=(corner["depth"],) * corner["num_stages"], **corner)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    f"The search space's smallest {family!r} model is not a "
                    f"valid spec: {error}"
                ) from None

    @classmethod
    def from_file(cls, path):
        """Reads overrides from a `.json`, `.yaml` or `.yml` file.

        Args:
            path: str. A `.json`, `.yaml` or `.yml` file of overrides.
        """
        if not os.path.lexists(path):
            raise ValueError(f"Search space file {path!r} does not exist.")
        check_regular_file(path, "Search space file", MAX_SPACE_BYTES)
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if path.endswith((".yaml", ".yml")):
            try:
                overrides = load_yaml(text)
            except RecursionError:
                raise ValueError(
                    f"Search space file {path!r} is nested too deeply."
                ) from None
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = (
                    f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                )
                problem = getattr(error, "problem", None) or str(error)
                raise ValueError(
                    f"Search space file {path!r} is not valid YAML at {where}: "
                    f"{problem}."
                ) from None
        elif path.endswith(".json"):
            try:
                overrides = load_json(text)
            except RecursionError:
                raise ValueError(
                    f"Search space file {path!r} is nested too deeply."
                ) from None
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"Search space file {path!r} is not valid JSON at line "
                    f"{error.lineno}, column {error.colno}: {error.msg}."
                ) from None
            except ValueError as error:  # a duplicate key
                raise ValueError(f"Search space file {path!r} has {error}.") from None
        else:
            raise ValueError(
                f"Search space file {path!r} must end in .json, .yaml or .yml."
            )
        if not isinstance(overrides, dict):
            raise ValueError(
                f"Search space file {path!r} must hold a mapping of entries; "
                f"received {type(overrides).__name__}."
            )
        return cls(overrides)

    @property
    def families(self):
        """The families this space samples, in order."""
        return tuple(_values(self.entries["family"]))

    def corners(self):
        """The smallest configuration of each family (for budget checks):
        fewest stages and blocks, narrowest width, and the smallest value of
        each of the family's own hyperparameters."""
        shape = {name: _minimum(self.entries[name]) for name in SHAPE_SPACE}
        return {
            family: dict(
                shape,
                family=family,
                **{
                    name: _minimum(self.entries[name])
                    for name in get_search_family(family).parameters
                },
            )
            for family in self.families
        }

    def sample(self, hp):
        """Declares the space on `hp` and returns the sampled values.

        Family parameters are declared inside a conditional scope, so they
        are sampled only when their family is chosen.

        Args:
            hp: `keras_tuner.HyperParameters`. Where to declare the space.
        """
        values = {"family": _declare(hp, "family", self.entries["family"])}
        num_stages = _declare(hp, "num_stages", self.entries["num_stages"])
        values["num_stages"] = num_stages
        stage_options = _values_or_bounds(self.entries["num_stages"])
        depths = []
        for stage in range(int(max(stage_options))):
            parents = [n for n in stage_options if n > stage]
            name = f"depth_{stage + 1}"
            if len(parents) == len(stage_options):
                depths.append(_declare(hp, name, self.entries["depth"]))
            else:
                with hp.conditional_scope("num_stages", parents):
                    depths.append(_declare(hp, name, self.entries["depth"]))
        values["depths"] = tuple(depths[:num_stages])
        values["base_width"] = _declare(hp, "base_width", self.entries["base_width"])
        for name, owners in self.owners.items():
            families = [f for f in owners if f in self.families]
            if not families:
                continue
            with hp.conditional_scope("family", families):
                value = _declare(hp, name, self.entries[name])
            if values["family"] in families:
                values[name] = value
        for name in TRAINING_SPACE:
            values[name] = _declare(hp, name, self.entries[name])
        return values


def family_spec(family, depths, base_width, drop_path_rate=0.0, **values):
    """A CIFAR-sized `ModelSpec` of one registered search family.

    Args:
        family: str. A registered search family (see
            `keras_residual.blocks.list_search_families()`).
        depths: sequence of int. Blocks per stage; stage i has
            `base_width * 2**i` filters (stride 2 from the second stage).
        base_width: int. First-stage (and stem) width.
        drop_path_rate: float. Stochastic depth. Defaults to `0.0`.
        **values: the family's own hyperparameters (e.g. `growth_rate`,
            `gate_bias`; the family's defaults where missing) and any other
            sampled values, which are ignored (`num_stages`, the recipe
            settings), so that `family_spec(**space.sample(hp))` works.
    """
    entry = get_search_family(family)
    own = {name: values[name] for name in entry.parameters if name in values}
    layout = entry.make_spec(tuple(depths), base_width, **own)
    return ModelSpec.from_dict(
        dict(CIFAR_FIELDS, drop_path_rate=drop_path_rate, **layout)
    )


def _check_numbers(name, values):
    """Every number among `values` finite, and an int within int32 (1e999,
    NaN or 10**30 once overflowed a trial, or was refused only after one
    ran)."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if isinstance(value, numbers.Integral):
            bad = abs(int(value)) > 2**31 - 1
        else:
            bad = not math.isfinite(float(value))
        if bad:
            raise ValueError(
                f"Search space entry {name!r} holds {value!r}; values must be "
                "finite, and integers within +-2**31."
            )


def _check_entry(name, entry):
    _check_numbers(
        name,
        entry.values()
        if isinstance(entry, dict)
        else entry
        if isinstance(entry, (list, tuple))
        else [entry],
    )
    if isinstance(entry, (list, tuple)):
        if not entry:
            raise ValueError(
                f"Search space entry {name!r} is an empty list: give at least "
                "one value."
            )
        if len(set(map(repr, entry))) != len(entry):
            raise ValueError(
                f"Search space entry {name!r} repeats a value: {list(entry)!r}."
            )
        return list(entry)
    if isinstance(entry, dict):
        unknown = set(entry) - {"min", "max", "step", "sampling"}
        if unknown or not {"min", "max"} <= set(entry):
            raise ValueError(
                f"Search space entry {name!r} must be {{'min', 'max'"
                f"[, 'step', 'sampling']}}; received keys {sorted(entry)}."
            )
        low, high = entry["min"], entry["max"]
        if not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (low, high)
        ):
            raise ValueError(
                f"Search space entry {name!r} needs numeric bounds; received {entry!r}."
            )
        if low > high:
            raise ValueError(
                f"Search space entry {name!r} is contradictory: min {low!r} > "
                f"max {high!r}."
            )
        if entry.get("sampling", "linear") not in ("linear", "log"):
            raise ValueError(
                f"Search space entry {name!r}: 'sampling' must be 'linear' or "
                f"'log'; received {entry['sampling']!r}."
            )
        if entry.get("sampling") == "log" and low <= 0:
            raise ValueError(
                f"Search space entry {name!r}: log sampling needs min > 0; "
                f"received {low!r}."
            )
        return dict(entry)
    if isinstance(entry, (numbers.Real, str)) and not isinstance(entry, bool):
        return entry
    raise ValueError(
        f"Search space entry {name!r} must be a value, a list of values or "
        f"{{'min', 'max'}}; received {entry!r}."
    )


def _values(entry):
    if isinstance(entry, list):
        return entry
    if isinstance(entry, dict):
        raise ValueError(f"Expected a list of values; received a range {entry!r}.")
    return [entry]


def _values_or_bounds(entry):
    if isinstance(entry, dict):
        return list(range(int(entry["min"]), int(entry["max"]) + 1))
    return _values(entry)


def _minimum(entry):
    if isinstance(entry, dict):
        return entry["min"]
    return min(_values(entry))


def _declare(hp, name, entry):
    if isinstance(entry, list):
        if len(entry) == 1:
            return hp.Fixed(name, entry[0])
        return hp.Choice(name, entry)
    if isinstance(entry, dict):
        low, high = entry["min"], entry["max"]
        if low == high:
            return hp.Fixed(name, low)
        sampling = entry.get("sampling", "linear")
        if isinstance(low, int) and isinstance(high, int):
            return hp.Int(name, low, high, step=entry.get("step", 1), sampling=sampling)
        return hp.Float(
            name, float(low), float(high), step=entry.get("step"), sampling=sampling
        )
    return hp.Fixed(name, entry)
