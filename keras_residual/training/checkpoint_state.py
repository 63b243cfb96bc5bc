"""What a run's `checkpoints/state.json` holds, checked on reading: the
file is untrusted (a FIFO, a link to /dev/zero, another program's JSON, a
checkpoint name that leaves the folder are refused), and the generators'
states that `save_weights` leaves out, so a resumed run draws the dropout
masks an uninterrupted one would."""

import math
import re

import keras

from keras_residual.utils.strict_parsing import read_json_file

# A state holds every epoch's logs twice (its own and its previous state's):
# ~0.5 KB an epoch.
MAX_STATE_BYTES = 64 << 20
CHECKPOINT_NAME = re.compile(r"epoch-[0-9]{4,}\.weights\.h5")


def _state_problem(state):
    """What in one saved state does not fit `_save`'s shape, or None."""
    if not isinstance(state, dict):
        return "is not an object"
    epoch = state.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return "has no epoch count"
    weights = state.get("weights")
    if not isinstance(weights, str) or not CHECKPOINT_NAME.fullmatch(weights):
        return "names no checkpoint of its folder (epoch-NNNN.weights.h5)"
    if not isinstance(state.get("sha256", ""), (str, type(None))):
        return "has a sha256 that is not text"
    history = state.get("history")
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        return "has no list of history rows"
    if not isinstance(state.get("seed_states", []), list):
        return "has generator states that are not a list"
    return None


def check_state(state, path):
    """`state` (a parsed `state.json`) when it has the shape `_save` writes:
    an `epoch` count, a checkpoint named `epoch-NNNN.weights.h5` in the same
    folder, its sha256, a list of history rows, and the previous state (the
    same shape, or null).

    Args:
        state: object. The parsed JSON.
        path: str. The file, for the message.

    Raises:
        ValueError: naming what does not fit.
    """
    previous = state.get("previous") if isinstance(state, dict) else None
    for where, current in (("", state), (" (its previous state)", previous)):
        if current is None and where:
            continue
        problem = _state_problem(current)
        if problem is not None:
            raise ValueError(
                f"The checkpoint state {path!r}{where} {problem}, so no run "
                "wrote it; remove the run directory's checkpoints/ to start "
                "again, or use another `out`."
            )
    return state


def read_state_file(path):
    """A `state.json`, checked by `check_state`.

    Args:
        path: str. The file.

    Raises:
        ValueError: a special or oversized file, invalid JSON, or a state
            not shaped as a run writes it.
    """
    return check_state(
        read_json_file(path, "The checkpoint state", MAX_STATE_BYTES), path
    )


def _seed_state_variables(model):
    """The states of `model`'s random-number generators (dropout, stochastic
    depth), in layer order; `save_weights` leaves them out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def seed_states(model):
    """`model`'s generator states as lists of int, for `state.json`.

    Args:
        model: `keras.Model`. The model.
    """
    return [
        [int(x) for x in keras.ops.convert_to_numpy(v.value).ravel()]
        for v in _seed_state_variables(model)
    ]


def restore_seed_states(model, states):
    """Gives `model`'s generators the `states` that `seed_states` read, so a
    resumed run draws the masks an uninterrupted one would; states that do
    not match the model (another architecture) are ignored.

    Args:
        model: `keras.Model`. The model.
        states: list or None. `seed_states`' value.
    """
    variables = _seed_state_variables(model)
    if not isinstance(states, list) or len(states) != len(variables):
        return
    for variable, state in zip(variables, states):
        if (
            isinstance(state, list)
            and len(state) == math.prod(variable.shape)
            and all(isinstance(x, int) and abs(x) < 2**63 for x in state)
        ):
            variable.assign(keras.ops.reshape(state, variable.shape))
