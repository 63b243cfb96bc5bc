"""Seeded fuzzing of every reader of untrusted files (search spaces,
checkpoints, weights, presets, keras-hub presets, a preset about to be
pushed, exports, and a run folder's run.json and state.json and a saved
search's oracle.json): hostile files of each kind
(special files, links to devices, YAML alias bombs, nesting too deep to
parse, duplicate keys, random and truncated bytes) go to each reader,
in a real subprocess with a deadline, so that a hang or a crash fails the
test instead of stopping the suite. Every call must return or raise a
`ValueError`/`TypeError`; the script prints how each one answered."""

import json

import pytest

from tests.conftest import free_port
from tests.conftest import run_python
from tests.conftest import subprocess_env

FUZZ = r"""
import json, os, shutil, struct, sys, time
import keras_hub
import numpy as np
import keras_residual as kr
from keras_residual.search.space import SearchSpace
from keras_residual.serving.predictor import load_predictor
from keras_residual.weights import load_weights
from keras_residual.weights import save_legacy_weights

from keras_residual.search.tuners import check_saved_trials
from keras_residual.training.checkpoint_state import read_state_file
from keras_residual.training.runs import check_run_dir

folder, count = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
model = kr.ResNet20(input_shape=(32, 32, 1), classes=3, depths=(1, 1, 1))
valid_h5 = os.path.join(folder, "valid.h5")
save_legacy_weights(model, valid_h5)
valid_bytes = open(valid_h5, "rb").read()


def alias_bomb():
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(8):
        name, previous = chr(98 + i), chr(97 + i)
        text += f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
    return text.encode()


def safetensors_with(header):
    blob = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(blob)) + blob


KINDS = {
    "empty": lambda: b"",
    "random": lambda: rng.bytes(int(rng.integers(1, 4096))),
    "truncated_h5": lambda: valid_bytes[: int(rng.integers(8, len(valid_bytes)))],
    "mutated_h5": lambda: bytes(
        b ^ (0xFF if rng.random() < 0.001 else 0) for b in valid_bytes
    ),
    "alias_bomb": alias_bomb,
    "deep": lambda: b"[" * 100_000 + b"]" * 100_000,
    "duplicate_keys": lambda: b'{"depth": [1], "depth": [2]}',
    "deep_header": lambda: safetensors_with(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000),
    "huge_header": lambda: struct.pack("<Q", 2**62) + b"{}",
    "overlap": lambda: safetensors_with(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
         "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    ) + b"\0" * 16,
}
SPECIAL = ("fifo", "dev_zero", "directory")
preset = kr.save_to_preset(model, os.path.join(folder, "preset"))
preset_config = open(os.path.join(preset, "config.json"), "rb").read()


def placed(path, *names):
    # Moves the hostile `path` to `path.d/NAMES...` (for readers that take
    # a folder), returning that folder.
    inner = os.path.join(path + ".d", *names[:-1])
    os.makedirs(inner)
    os.rename(path, os.path.join(inner, names[-1]))
    return path + ".d"


hub_preset = os.path.join(folder, "hub")
keras_hub.models.ResNetBackbone(
    input_conv_filters=[64], input_conv_kernel_sizes=[7],
    stackwise_num_filters=[64], stackwise_num_blocks=[1],
    stackwise_num_strides=[1], block_type="basic_block",
    use_pre_activation=False, image_shape=(None, None, 3),
).save_to_preset(hub_preset)  # fmt: skip


def as_member(path, source, member):
    # `path` as `member` of a copy of the preset folder `source`.
    target = placed(path, member)
    for other in os.listdir(source):
        if other != member:
            shutil.copy(os.path.join(source, other), target)
    return target


def as_preset_weights(path):
    folder = placed(path, "model.safetensors")
    with open(os.path.join(folder, "config.json"), "wb") as handle:
        handle.write(preset_config)
    return kr.load_preset(folder)


READERS = {
    "state.json": lambda p: read_state_file(p),
    "run.json": lambda p: check_run_dir(placed(p, "run.json"), {}, True),
    "oracle.json": lambda p: check_saved_trials(
        os.path.join(placed(p, "search", "oracle.json"), "search")
    ),
    "preset.safetensors": as_preset_weights,
    "hub.config.json": lambda p: kr.from_keras_hub(
        as_member(p, hub_preset, "config.json")
    ),
    "hub.weights.h5": lambda p: kr.from_keras_hub(
        as_member(p, hub_preset, "model.weights.h5")
    ),
    # HF_ENDPOINT is a closed local port: an upload would be an OSError.
    "push.config.json": lambda p: kr.push_to_hub(
        as_member(p, preset, "config.json"), "me/fuzz"
    ),
    "push.safetensors": lambda p: kr.push_to_hub(
        as_member(p, preset, "model.safetensors"), "me/fuzz"
    ),
    "space.yaml": lambda p: SearchSpace.from_file(p),
    "space.json": lambda p: SearchSpace.from_file(p),
    "ckpt.safetensors": lambda p: kr.from_checkpoint(p),
    "weights.h5": lambda p: load_weights(model, p),
    "model.tflite": lambda p: load_predictor(p),
    "model.keras": lambda p: load_predictor(p),
}
answers = {}
for trial in range(count):
    kinds = list(KINDS) + list(SPECIAL)
    kind = kinds[trial % len(kinds)]
    for name, reader in READERS.items():
        path = os.path.join(folder, f"{trial}-{kind}-{name}")
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dev_zero":
            os.symlink("/dev/zero", path)
        elif kind == "directory":
            os.mkdir(path)
        else:
            with open(path, "wb") as handle:
                handle.write(KINDS[kind]())
        started = time.monotonic()
        try:
            reader(path)
            answer = "read"
        except (ValueError, TypeError):
            answer = "refused"
        seconds = time.monotonic() - started
        assert seconds < 20, (kind, name, seconds)
        answers[f"{kind} {name}"] = answer
print(json.dumps(answers))
"""


@pytest.mark.xdist_group("subprocess")
def test_hostile_files_are_refused_or_read_never_hang_or_crash(tmp_path):
    env = subprocess_env(HF_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    run = run_python(FUZZ, tmp_path, 13, env=env)
    assert run.returncode == 0, (run.returncode, run.stderr[-3000:])
    answers = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(answers) == 13 * 14
    # Nothing hostile is read as valid (a few flipped bits may leave a
    # weights file valid), and every special file is refused.
    read = {key for key, value in answers.items() if value == "read"}
    assert read <= {"mutated_h5 weights.h5"}, read
