"""Weights files, presets and `.keras` files that are corrupt, crafted or too
large: refused by name, never half-loaded. Each test reproduces an attack or
a finding that worked before its fix (the hardening rounds of issues #15 and
#40)."""

import os
import time

import h5py
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.weights import load_weights
from keras_residual.weights import save_legacy_weights
from tests.conftest import small_digits
from tests.conftest import tiny_resnet
from tests.safety_helpers import _bad_value
from tests.safety_helpers import _dataset_names
from tests.safety_helpers import _edit_legacy_dataset
from tests.safety_helpers import _keras_with_member
from tests.safety_helpers import _preset_tensors
from tests.safety_helpers import _raw_safetensors
from tests.safety_helpers import assert_unchanged
from tests.safety_helpers import deadline
from tests.safety_helpers import legacy_file_with
from tests.safety_helpers import overwrite_middle
from tests.safety_helpers import snapshot
from tests.safety_helpers import tiny_model


def test_nan_bytes_in_a_keras3_weights_file_are_refused(tmp_path):
    source = tiny_model()
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    overwrite_middle(path, b"\xff" * 8)  # two NaNs
    model = tiny_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="non-finite"):
        load_weights(model, path)
    assert_unchanged(model, before)


def test_flipped_bytes_in_our_legacy_file_fail_its_checksum(tmp_path):
    source = tiny_model()
    path = str(tmp_path / "model.h5")
    save_legacy_weights(source, path)
    overwrite_middle(path, b"\x00\x00\x80\x3f" * 2)  # finite garbage: 1.0
    model = tiny_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="corrupt"):
        load_weights(model, path)
    assert_unchanged(model, before)


@pytest.mark.parametrize(
    "layer, index, make, message",
    [
        # The last tensor as bytes once left 96 of 97 variables overwritten.
        ("predictions", 1, lambda old: np.array([b"x" * 4] * len(old)), "dtype"),
        ("predictions", 1, lambda old: old + 1j * np.nan, "dtype complex"),
        ("conv1_bn", 3, lambda old: -np.abs(old) - 1.0, "negative values"),
    ],
)
def test_a_bad_last_tensor_of_a_legacy_file_assigns_nothing(
    tmp_path, layer, index, make, message
):
    path = str(tmp_path / "model.h5")
    save_legacy_weights(tiny_model(), path)
    _edit_legacy_dataset(path, layer, index, make)
    model = tiny_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        load_weights(model, path)
    assert_unchanged(model, before)


def test_hard_link_cycles_and_missing_groups_are_named_errors(tmp_path):
    """Once a RecursionError (after 100 s on a busy machine) and a KeyError
    from h5py, with tracebacks; the cycle is now refused as one."""
    path = str(tmp_path / "cycle.h5")
    save_legacy_weights(tiny_model(), path)
    with h5py.File(path, "r+") as handle:
        handle["conv1_conv"]["loop"] = handle["conv1_conv"]  # a hard link
    with pytest.raises(ValueError, match="'conv1_conv/loop' links back.*a cycle"):
        load_weights(tiny_model(), path)
    path = str(tmp_path / "missing.h5")
    save_legacy_weights(tiny_model(), path)
    with h5py.File(path, "r+") as handle:
        del handle["conv1_bn"]  # still listed in layer_names
    with pytest.raises(ValueError, match="is corrupt: KeyError"):
        load_weights(tiny_model(), path)


def test_a_negative_variance_in_a_keras3_weights_file_is_refused(tmp_path):
    source = tiny_model()
    variance = source.get_layer("conv1_bn").moving_variance
    variance.assign(-np.ones(variance.shape, "float32"))
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    model = tiny_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="negative values.*left unchanged"):
        load_weights(model, path)
    assert_unchanged(model, before)


def test_a_dataset_declaring_gigabytes_is_refused_before_it_is_read(tmp_path):
    """A tiny file whose compressed dataset declares 60000 x 60000 floats
    once allocated 13.4 GiB before its shape was compared."""

    def huge(group, name, shape, handle):
        group.create_dataset(
            name, shape=(60000, 60000), dtype="f4", chunks=(1000, 1000),
            compression="gzip",
        )  # fmt: skip

    model, path = legacy_file_with(tmp_path, huge)
    assert os.path.getsize(path) < 2_000_000
    before = snapshot(model)
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"declares shape \(60000, 60000\)"):
        load_weights(model, path)
    assert time.monotonic() - started < 10
    assert_unchanged(model, before)


def test_external_storage_pointing_at_a_system_file_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(1000, dtype=np.float32).tobytes())

    def external(group, name, shape, handle):
        group.create_dataset(
            name, shape=shape, dtype="f4", external=[(str(secret), 0, 4000)]
        )

    model, path = legacy_file_with(tmp_path, external)
    before = snapshot(model)
    with pytest.raises(ValueError, match="external files"):
        load_weights(model, path)
    assert_unchanged(model, before)


def test_soft_and_external_links_are_refused(tmp_path):
    def soft(group, name, shape, handle):
        handle.create_dataset("elsewhere", data=np.zeros(shape, np.float32))
        group[name] = h5py.SoftLink("/elsewhere")

    model, path = legacy_file_with(tmp_path, soft)
    with pytest.raises(ValueError, match="soft link"):
        load_weights(model, path)

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.create_dataset("kernel", data=np.zeros((3, 3, 1, 16), np.float32))

    def external_link(group, name, shape, handle):
        group[name] = h5py.ExternalLink(str(other), "/kernel")

    model, path = legacy_file_with(tmp_path / "..", external_link)
    with pytest.raises(ValueError, match="external link"):
        load_weights(model, path)


def test_virtual_datasets_are_refused(tmp_path):
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as handle:
        handle.create_dataset("data", data=np.ones(144, np.float32))

    def virtual(group, name, shape, handle):
        layout = h5py.VirtualLayout(shape=shape, dtype="f4")
        layout[...] = h5py.VirtualSource(str(source), "data", shape=shape)
        group.create_virtual_dataset(name, layout)

    model, path = legacy_file_with(tmp_path, virtual)
    with pytest.raises(ValueError, match="virtual dataset"):
        load_weights(model, path)


def test_a_directory_is_named_as_a_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_weights(tiny_model(), str(tmp_path))


def test_a_deep_safetensors_header_is_refused_by_name(tmp_path):
    import struct

    header = ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="header is nested too deeply"):
        kr.from_checkpoint(str(path))


@pytest.mark.xdist_group("subprocess")
def test_push_refuses_a_linked_preset_file_and_leaves_other_files_local(tmp_path):
    import shutil

    from tests.conftest import run_cli
    from tests.local_hub import hub_env
    from tests.local_hub import start_hub
    from tests.local_hub import stop_hub

    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    preset = kr.save_to_preset(model, tmp_path / "preset")
    (tmp_path / "preset" / ".env").write_text("HF_TOKEN=secret")
    (tmp_path / "preset" / "notes.txt").write_text("private")
    # The card a link to a file outside the folder (as /etc/passwd was).
    outside = tmp_path / "outside.md"
    shutil.move(os.path.join(preset, "README.md"), outside)
    os.symlink(outside, os.path.join(preset, "README.md"))
    hub = start_hub()
    try:
        env = hub_env(hub, tmp_path / "hf", HF_TOKEN="local-test-token")
        refused = run_cli("push", preset, "me/linked", env=env, timeout=300)
        assert refused.returncode == 2
        assert "is a link" in refused.stderr and "outside.md" in refused.stderr
        assert hub.tree("me/linked") is None
        os.remove(os.path.join(preset, "README.md"))
        shutil.copyfile(outside, os.path.join(preset, "README.md"))
        pushed = run_cli("push", preset, "me/linked", env=env, timeout=300)
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        assert "Not uploaded (not part of a preset): .env, notes.txt" in pushed.stdout
        assert sorted(hub.tree("me/linked")) == [
            "README.md",
            "config.json",
            "model.safetensors",
        ]
        # The card, written for its local folder, loads from the Hub there.
        card = hub.tree("me/linked")["README.md"].decode()
        assert 'model = kr.load_preset("hf://me/linked")' in card
    finally:
        stop_hub(hub)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan", "non-finite"),
        ("inf", "non-finite"),
        ("bf16_nan", "non-finite"),
        ("f64_huge", "beyond the range of float32"),
        ("negative_variance", "negative values"),
        ("int64", "integer or boolean tensor"),
        ("bool", "integer or boolean tensor"),
        ("uint64", "has dtype 'U64'"),
    ],
)
def test_a_preset_with_values_no_weight_has_is_refused(tmp_path, kind, message):
    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    folder = kr.save_to_preset(model, tmp_path / "preset")
    tensors = _preset_tensors(folder)
    name = next(n for n in tensors if n.endswith("moving_variance"))
    if kind not in ("negative_variance",):
        name = next(n for n in tensors if n.endswith("kernel"))
    code, shape, _ = tensors[name]
    tensors[name] = (*_bad_value(kind, shape)[:1], shape, _bad_value(kind, shape)[1])
    _raw_safetensors(os.path.join(folder, "model.safetensors"), tensors)
    with pytest.raises(ValueError, match=message):
        kr.load_preset(folder)
    with pytest.raises(ValueError, match=message):
        tiny_resnet(input_shape=(16, 16, 1), classes=3, weights=folder)


def test_a_legacy_h5_with_float64_beyond_float32_or_integers_is_refused(tmp_path):
    import h5py
    import numpy as np

    from keras_residual.weights import load_weights
    from keras_residual.weights import save_legacy_weights

    model = tiny_resnet(input_shape=(16, 16, 1), classes=3)
    before = [np.array(v) for v in model.weights]
    for values, message in (
        (lambda shape: np.full(shape, 1e300), "beyond the range of float32"),
        (lambda shape: np.full(shape, 2**62, "int64"), "integer or boolean"),
        (lambda shape: np.ones(shape, bool), "integer or boolean"),
    ):
        path = str(tmp_path / "weights.h5")
        save_legacy_weights(model, path)
        with h5py.File(path, "r+") as handle:
            names = _dataset_names(handle, "kernel")
            shape = handle[names[0]].shape
            del handle[names[0]]
            handle[names[0]] = values(shape)
        with pytest.raises(ValueError, match=message):
            load_weights(model, path)
        assert all(
            np.array_equal(np.array(v), b) for v, b in zip(model.weights, before)
        )


def test_from_keras_hub_refuses_nan_kernels_and_negative_variances(tmp_path):
    import keras_hub
    import numpy as np

    for corrupt, message in (("kernel", "non-finite"), ("moving_variance", "negative")):
        backbone = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 32], stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2], block_type="basic_block",
            use_pre_activation=False, image_shape=(None, None, 3),
        )  # fmt: skip
        variable = next(v for v in backbone.weights if v.path.endswith(corrupt))
        bad = np.nan if corrupt == "kernel" else -1.0
        variable.assign(np.full(variable.shape, bad, "float32"))
        folder = str(tmp_path / corrupt)
        backbone.save_to_preset(folder)
        with pytest.raises(ValueError, match=message):
            kr.from_keras_hub(folder)


@pytest.mark.parametrize(
    "member, size, message",
    [
        ("config.json", 80 << 20, "config.json inflates to .* over the limit"),
        ("assets/padding.bin", 300 << 20, "decompression bomb"),
    ],
)
def test_a_keras_file_that_inflates_far_past_its_size_is_refused(
    tmp_path, member, size, message
):
    from keras_residual.serving.predictor import load_predictor

    path = _keras_with_member(tmp_path, member, size)
    assert os.path.getsize(path) < 2 << 20  # the bomb is small on disk
    with deadline(30), pytest.raises(ValueError, match=message):
        load_predictor(path)
    with deadline(30), pytest.raises(ValueError, match=message):
        kr.train(
            "ResNet20", small_digits(), str(tmp_path / "run"), weights=path,
            epochs=1, export=False, verbose=0,
        )  # fmt: skip
