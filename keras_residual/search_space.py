"""The architecture search space: block family, depth, width, family-specific
and recipe hyperparameters, declared on a `keras_tuner.HyperParameters`.

Each entry of a space is one of:

- a scalar: fixed (`hp.Fixed`);
- a list: a choice (`hp.Choice`);
- `{"min": a, "max": b}` (optionally `"step"`, `"sampling": "log"`): an
  `hp.Int` when both bounds are ints, else an `hp.Float`.

Users narrow or fix any entry from code (`SearchSpace(overrides)`) or a JSON
or YAML file (`SearchSpace.from_file(path)`).
"""

import json
import numbers
import os

from keras_residual.models.cifar import CIFAR_FIELDS
from keras_residual.models.densenet import densenet_spec
from keras_residual.spec import ModelSpec
from keras_residual.spec import StageSpec
from keras_residual.spec import StemSpec
from keras_residual.validation import unknown_name_message

# family -> (block, shortcut, extra ModelSpec settings, description)
FAMILIES = {
    "residual": ("basic", "zero_pad", {}, "post-activation basic blocks"),
    "bottleneck": ("bottleneck", "projection", {}, "post-activation bottlenecks"),
    "preact": ("preact_basic", "projection",
               {"stem_norm": False, "final_norm": "post"},
               "pre-activation basic blocks"),
    "highway": ("highway", "projection", {}, "gated highway blocks"),
    "dense": ("dense", "none", {}, "DenseNet-BC stages and transitions"),
    "plain": ("plain", "none", {}, "no shortcuts (the control)"),
}
# Hyperparameters sampled only when their family is chosen.
FAMILY_PARAMETERS = {
    "growth_rate": "dense",
    "compression": "dense",
    "gate_bias": "highway",
}
DEFAULT_SPACE = {
    "family": list(FAMILIES),
    "num_stages": [3],
    "depth": {"min": 1, "max": 4},
    "base_width": [16, 24, 32],
    "growth_rate": [8, 12, 16],
    "compression": [0.5, 1.0],
    "gate_bias": {"min": -3.0, "max": -1.0},
    "drop_path_rate": {"min": 0.0, "max": 0.2},
    "learning_rate": {"min": 0.02, "max": 0.2, "sampling": "log"},
    "weight_decay": {"min": 1e-5, "max": 1e-3, "sampling": "log"},
    "label_smoothing": {"min": 0.0, "max": 0.1},
}


class SearchSpace:
    """A checked search space: `DEFAULT_SPACE` with `overrides` applied.

    Args:
        overrides: dict or None. Entries to replace (see the module doc).
            Unknown names raise `ValueError` with close matches.
    """

    def __init__(self, overrides=None):
        overrides = dict(overrides or {})
        for name in overrides:
            if name not in DEFAULT_SPACE:
                raise ValueError(unknown_name_message(
                    "search space entry", name, DEFAULT_SPACE, "hyperparameter"))
        self.entries = {name: _check_entry(name, overrides.get(name, default))
                        for name, default in DEFAULT_SPACE.items()}
        families = _values(self.entries["family"])
        for family in families:
            if family not in FAMILIES:
                raise ValueError(unknown_name_message(
                    "family", family, FAMILIES, "block family"))
        for name in ("num_stages", "depth", "base_width", "growth_rate"):
            if _minimum(self.entries[name]) < 1:
                raise ValueError(
                    f"Search space entry {name!r} must be >= 1; received "
                    f"{self.entries[name]!r}.")

    @classmethod
    def from_file(cls, path):
        """Reads overrides from a `.json`, `.yaml` or `.yml` file."""
        if not os.path.isfile(path):
            raise ValueError(f"Search space file {path!r} does not exist.")
        with open(path) as handle:
            text = handle.read()
        if path.endswith((".yaml", ".yml")):
            import yaml

            overrides = yaml.safe_load(text)
        elif path.endswith(".json"):
            overrides = json.loads(text)
        else:
            raise ValueError(
                f"Search space file {path!r} must end in .json, .yaml or .yml.")
        if not isinstance(overrides, dict):
            raise ValueError(
                f"Search space file {path!r} must hold a mapping of entries; "
                f"received {type(overrides).__name__}.")
        return cls(overrides)

    @property
    def families(self):
        return tuple(_values(self.entries["family"]))

    def corners(self):
        """The smallest configuration of each family (for budget checks):
        fewest stages and blocks, narrowest width, smallest growth."""
        smallest = {name: _minimum(entry) for name, entry in self.entries.items()
                    if name in ("num_stages", "depth", "base_width",
                                "growth_rate", "compression")}
        return {family: dict(smallest, family=family) for family in self.families}

    def sample(self, hp):
        """Declares the space on `hp` and returns the sampled values.

        Family parameters are declared inside a conditional scope, so they
        are sampled only when their family is chosen.
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
        values["base_width"] = _declare(hp, "base_width",
                                        self.entries["base_width"])
        for name, family in FAMILY_PARAMETERS.items():
            if family not in self.families:
                continue
            with hp.conditional_scope("family", [family]):
                value = _declare(hp, name, self.entries[name])
            if values["family"] == family:
                values[name] = value
        for name in ("drop_path_rate", "learning_rate", "weight_decay",
                     "label_smoothing"):
            values[name] = _declare(hp, name, self.entries[name])
        return values


def family_spec(family, depths, base_width, growth_rate=12, compression=0.5,
                gate_bias=-2.0, drop_path_rate=0.0, **unused):
    """A CIFAR-sized `ModelSpec` of one block family.

    Args:
        family: str. A key of `FAMILIES`.
        depths: sequence of int. Blocks per stage; stage i has
            `base_width * 2**i` filters (stride 2 from the second stage).
        base_width: int. First-stage (and stem) width.
        growth_rate: int. Dense: channels per layer. Defaults to `12`.
        compression: float. Dense: transition factor. Defaults to `0.5`.
        gate_bias: float. Highway: initial gate bias. Defaults to `-2.0`.
        drop_path_rate: float. Stochastic depth. Defaults to `0.0`.
        **unused: the other sampled values (`num_stages`, recipe settings),
            so that `family_spec(**space.sample(hp))` works.
    """
    if family not in FAMILIES:
        raise ValueError(unknown_name_message("family", family, FAMILIES,
                                              "block family"))
    if family == "dense":
        return densenet_spec(
            tuple(depths), growth_rate=growth_rate, bottleneck=4,
            compression=compression,
            stem=StemSpec("cifar", 2 * growth_rate, {"norm": False}),
            **dict(CIFAR_FIELDS, drop_path_rate=drop_path_rate))
    block, shortcut, extra, _ = FAMILIES[family]
    args = {"gate_bias": float(gate_bias)} if family == "highway" else {}
    stages = tuple(
        StageSpec(depth, base_width * 2 ** i, block, stride=1 if i == 0 else 2,
                  shortcut=shortcut, args=dict(args))
        for i, depth in enumerate(depths))
    return ModelSpec(
        stem=StemSpec("cifar", base_width, {"norm": extra.get("stem_norm", True)}),
        stages=stages, final_norm=extra.get("final_norm"),
        **dict(CIFAR_FIELDS, drop_path_rate=drop_path_rate))


def _check_entry(name, entry):
    if isinstance(entry, (list, tuple)):
        if not entry:
            raise ValueError(
                f"Search space entry {name!r} is an empty list: give at least "
                "one value.")
        if len(set(map(repr, entry))) != len(entry):
            raise ValueError(
                f"Search space entry {name!r} repeats a value: {list(entry)!r}.")
        return list(entry)
    if isinstance(entry, dict):
        unknown = set(entry) - {"min", "max", "step", "sampling"}
        if unknown or not {"min", "max"} <= set(entry):
            raise ValueError(
                f"Search space entry {name!r} must be {{'min', 'max'"
                f"[, 'step', 'sampling']}}; received keys {sorted(entry)}.")
        low, high = entry["min"], entry["max"]
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                   for v in (low, high)):
            raise ValueError(
                f"Search space entry {name!r} needs numeric bounds; received "
                f"{entry!r}.")
        if low > high:
            raise ValueError(
                f"Search space entry {name!r} is contradictory: min {low!r} > "
                f"max {high!r}.")
        if entry.get("sampling", "linear") not in ("linear", "log"):
            raise ValueError(
                f"Search space entry {name!r}: 'sampling' must be 'linear' or "
                f"'log'; received {entry['sampling']!r}.")
        if entry.get("sampling") == "log" and low <= 0:
            raise ValueError(
                f"Search space entry {name!r}: log sampling needs min > 0; "
                f"received {low!r}.")
        return dict(entry)
    if isinstance(entry, (numbers.Real, str)) and not isinstance(entry, bool):
        return entry
    raise ValueError(
        f"Search space entry {name!r} must be a value, a list of values or "
        f"{{'min', 'max'}}; received {entry!r}.")


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
            return hp.Int(name, low, high, step=entry.get("step", 1),
                          sampling=sampling)
        return hp.Float(name, float(low), float(high), step=entry.get("step"),
                        sampling=sampling)
    return hp.Fixed(name, entry)
