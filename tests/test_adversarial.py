"""Hardening (issue #15): corrupt and crafted files, bad data, runs that are
not runs, and what a kill leaves behind. Each test reproduces an attack
that worked before the fix."""

import json
import os
import time

import h5py
import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.training.callbacks import BestModelCheckpoint
from keras_residual.training.callbacks import ResumableBackup
from keras_residual.weights import load_weights
from keras_residual.weights import save_legacy_weights
from tests.conftest import TINY
from tests.conftest import kill_when
from tests.conftest import small_classifier
from tests.conftest import small_digits


def tiny_model():
    return kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)


def snapshot(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.weights]


def assert_unchanged(model, before):
    for now, then in zip(snapshot(model), before):
        np.testing.assert_array_equal(now, then)


def largest_dataset(path):
    """(offset in the file, byte count) of the largest float dataset."""
    with h5py.File(path, "r") as handle:
        found = []
        handle.visititems(
            lambda name, item: (
                found.append(item)
                if isinstance(item, h5py.Dataset) and item.dtype.kind == "f"
                else None
            )
        )
        biggest = max(found, key=lambda d: d.size)
        if biggest.chunks is None:
            return biggest.id.get_offset(), biggest.id.get_storage_size()
        chunk = biggest.id.get_chunk_info(0)  # our writer chunks (Fletcher-32)
        return chunk.byte_offset, chunk.size


def overwrite_middle(path, data):
    """Writes `data` over the middle of the file's largest float dataset."""
    offset, size = largest_dataset(path)
    with open(path, "r+b") as handle:
        handle.seek(offset + size // 2)
        handle.write(data)


# 1. Corrupt weights -------------------------------------------------------


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


def _edit_legacy_dataset(path, layer, index, make):
    """Replaces weight `index` of `layer` in a legacy file by `make(old)`."""
    with h5py.File(path, "r+") as handle:
        name = handle[layer].attrs["weight_names"][index]
        name = name.decode() if hasattr(name, "decode") else name
        old = handle[layer][name][()]
        del handle[layer][name]
        handle[layer].create_dataset(name, data=make(old))


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
    """Once a RecursionError and a KeyError from h5py, with tracebacks."""
    path = str(tmp_path / "cycle.h5")
    save_legacy_weights(tiny_model(), path)
    with h5py.File(path, "r+") as handle:
        handle["conv1_conv"]["loop"] = handle["conv1_conv"]  # a hard link
    with pytest.raises(ValueError, match="is corrupt: RecursionError"):
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


def test_resume_falls_back_to_the_previous_checkpoint_when_the_latest_is_corrupt(
    tmp_path, capsys
):
    common = dict(
        epochs=2,
        batch_size=32,
        precision="float32",
        export=False,
        verbose=0,
        model_overrides=TINY,
    )
    out = str(tmp_path / "run")
    kr.train("ResNet20", small_digits(), out, **common)
    checkpoints = os.path.join(out, "checkpoints")
    state = json.load(open(os.path.join(checkpoints, "state.json")))
    assert state["epoch"] == 2 and state["previous"]["epoch"] == 1
    latest = os.path.join(checkpoints, state["weights"])
    overwrite_middle(latest, b"\x00\x00\x80\x3f" * 2)
    capsys.readouterr()
    again = kr.train("ResNet20", small_digits(), out, resume=True, **common)
    printed = capsys.readouterr().out
    assert "does not match the sha256" in printed
    assert "falling back to the one of epoch 1" in printed
    assert [row["epoch"] for row in again.history] == [1, 2]


# 2. HDF5 files that read other files --------------------------------------


def legacy_file_with(tmp_path, make_dataset):
    """A legacy weights file of `tiny_model()` whose first kernel is made
    by `make_dataset(group, name, shape)`."""
    model = tiny_model()
    path = str(tmp_path / "crafted.h5")
    save_legacy_weights(model, path)
    with h5py.File(path, "r+") as handle:
        name = handle["conv1_conv"].attrs["weight_names"][0]
        name = name.decode() if hasattr(name, "decode") else name
        shape = handle["conv1_conv"][name].shape
        del handle["conv1_conv"][name]
        make_dataset(handle["conv1_conv"], name, shape, handle)
    return model, path


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


# 9. Best-model tracking survives a resume ---------------------------------


def test_resumed_best_checkpoint_keeps_the_better_model(tmp_path):
    model = tiny_model()
    best = tmp_path / "best.keras"
    best.write_bytes(b"the best model of the run before the resume")
    backup = ResumableBackup(str(tmp_path / "backup"))
    backup.rows = [{"epoch": 1, "val_accuracy": 0.9}]
    checkpoint = BestModelCheckpoint(str(best), backup=backup)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(1, {"loss": 1.0, "val_accuracy": 0.5})
    assert best.read_bytes().startswith(b"the best model")  # 0.5 < 0.9
    checkpoint.on_epoch_end(2, {"loss": 0.5, "val_accuracy": 0.95})
    assert best.read_bytes().startswith(b"PK")  # saved: 0.95 > 0.9


# 3, 4 and clearer answers: bad data ----------------------------------------


def test_nan_pixels_are_refused_with_count_and_first_index():
    images, labels = small_digits()["train"]
    images = images.astype("float32")
    images[5, 3, 3] = np.nan
    images[9, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 image\(s\) with NaN.*index 5"):
        kr.load_data((images, labels), batch_size=8)


def test_one_class_datasets_are_refused(tmp_path):
    images, labels = small_digits()["train"]
    with pytest.raises(ValueError, match=r"has 1 class\(es\).*at least 2"):
        kr.load_data((images, np.zeros_like(labels)), batch_size=8)
    folder = tmp_path / "only_cats" / "cat"
    folder.mkdir(parents=True)
    from PIL import Image

    for index in range(20):
        Image.new("RGB", (8, 8), (index, 0, 0)).save(folder / f"{index}.png")
    with pytest.raises(ValueError, match=r"only_cats.*1 class\(es\) \(\['cat'\]\)"):
        kr.load_data(str(tmp_path / "only_cats"), batch_size=2, image_size=(8, 8))


def test_empty_arrays_and_string_labels_name_the_argument():
    images, labels = small_digits()["train"]
    with pytest.raises(ValueError, match=r"`images` has shape \(0,"):
        kr.load_data((images[:0], labels[:0]), batch_size=8)
    with pytest.raises(ValueError, match="`labels` must be non-negative integers"):
        kr.load_data((images, labels.astype(str)), batch_size=8)
    with pytest.raises(ValueError, match="`images` must be numeric"):
        kr.load_data((images.astype(str), labels), batch_size=8)


@pytest.mark.parametrize("huge", [2**32 + 1, 2**40, -(2**33)])
def test_labels_outside_int32_are_refused_not_wrapped(huge):
    """`astype("int32")` once turned 2**32 + 1 into 1 and 2**40 into 0."""
    images, labels = small_digits()["train"]
    labels = labels.astype("int64")
    labels[3] = huge
    message = rf"class indices in \[0, 2147483647\].*{huge}"
    with pytest.raises(ValueError, match=message):
        kr.load_data((images, labels), batch_size=8)


def test_one_hot_labels_are_read_as_classes_and_other_matrices_refused():
    images, labels = small_digits()["train"]
    one_hot = np.eye(10, dtype="float32")[labels]
    data = kr.load_data((images, one_hot), batch_size=len(labels), augment="none")
    data_ref = kr.load_data((images, labels), batch_size=len(labels), augment="none")
    assert data.classes == data_ref.classes == 10
    _, read = next(iter(data.train))
    _, expected = next(iter(data_ref.train))
    np.testing.assert_array_equal(np.sort(read), np.sort(expected))
    with pytest.raises(ValueError, match=r"has shape \(\d+, 10\): pass one class"):
        kr.load_data((images, one_hot * 0.5), batch_size=8)


# 6 and 14: run directories --------------------------------------------------


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(ValueError, match=r"not a run directory.*holiday.jpg"):
        kr.train(
            "ResNet20",
            small_digits(),
            str(folder),
            epochs=1,
            resume=True,
            export=False,
            verbose=0,
            model_overrides=TINY,
        )
    assert sorted(os.listdir(folder)) == ["holiday.jpg"]


def test_a_new_run_refuses_a_folder_holding_the_users_files(tmp_path, capsys):
    """Without --resume too: a run would overwrite the user's metrics.json and
    history.csv and clear saved_model/."""
    from keras_residual.cli import main

    folder = tmp_path / "results"
    (folder / "saved_model").mkdir(parents=True)
    (folder / "metrics.json").write_text('{"mine": 1}')
    (folder / "saved_model" / "thesis.pb").write_bytes(b"keep me")
    with pytest.raises(ValueError, match=r"not a run directory.*metrics.json"):
        kr.train(
            "ResNet20", small_digits(), str(folder), epochs=1, verbose=0,
            export=False, model_overrides=TINY,
        )  # fmt: skip
    code = main(["train", "--model", "ResNet20", "--epochs", "1", "--out", "/"])
    assert code == 2 and "'/' is not a run directory" in capsys.readouterr().err
    assert not os.path.exists("/run.json")
    assert (folder / "metrics.json").read_text() == '{"mine": 1}'
    assert sorted(os.listdir(folder / "saved_model")) == ["thesis.pb"]


def test_resume_removes_the_staging_a_killed_export_left(tmp_path):
    common = dict(
        epochs=1,
        batch_size=32,
        precision="float32",
        export=False,
        verbose=0,
        model_overrides=TINY,
    )
    out = tmp_path / "run"
    kr.train("ResNet20", small_digits(), str(out), **common)
    stale = out / ".saved_model.kr-abc12345.tmp"  # atomic_directory's form
    (stale / "variables").mkdir(parents=True)
    (out / ".model.keras.kr-x1y2z3w4.tmp.keras").write_bytes(b"half")
    kr.train("ResNet20", small_digits(), str(out), resume=True, **common)
    assert [name for name in os.listdir(out) if ".tmp" in name] == []


# 7, 8, 11: export and predict -------------------------------------------------


def test_export_takes_a_built_sequential_and_refuses_an_unbuilt_one(tmp_path):
    path = kr.export(
        small_classifier(), str(tmp_path / "seq.keras"), "keras", preprocessing="tf"
    )
    from keras_residual.serving.model_card import card_path

    card = json.load(open(card_path(path)))
    assert os.path.isfile(path) and card["preprocessing"]["mode"] == "tf"
    never_built = keras.Sequential([keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="never been built.*keras.Input"):
        kr.export(never_built, str(tmp_path / "never.keras"), "keras")
    with pytest.raises(ValueError, match="`top_k`"):
        kr.export(
            small_classifier(),
            str(tmp_path / "k.keras"),
            "keras",
            preprocessing="tf",
            top_k=0,
        )


def test_predict_refuses_top_k_below_one(tmp_path, capsys):
    from keras_residual.cli import main

    code = main(["predict", str(tmp_path / "any.keras"), "x.png", "--top-k", "-1"])
    assert code == 2
    assert "`--top-k`" in capsys.readouterr().err


def test_predict_escapes_control_characters_in_class_names(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main

    names = ["cat\x1b[2J\x1b[31m", "dog\nfake.png: owned (1.000)", "bird"]
    path = kr.export(
        small_classifier(),
        str(tmp_path / "model.keras"),
        "keras",
        preprocessing="tf",
        class_names=names,
    )
    image = tmp_path / "image\x1b[1m.png"
    Image.new("L", (16, 16), 128).save(image)
    assert main(["predict", path, str(image), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.count("\n") == 1
    assert "cat\\x1b[2J" in out and "dog\\nfake.png" in out and "image\\x1b[1m" in out


# 12. Trial ids from the oracle ------------------------------------------------


def test_trial_ids_must_be_plain_names_inside_the_search_folder(tmp_path):
    from keras_residual.search.hypermodel import trial_backup_dir

    root = tmp_path / "search"
    root.mkdir()
    assert trial_backup_dir(str(root), "07") == os.path.join(
        os.path.realpath(root), "trial_07"
    )
    for hostile in ("../../etc", "/etc", "a/b", "x\x1b", "", "." * 3):
        with pytest.raises(ValueError, match="trial id"):
            trial_backup_dir(str(root), hostile)
    outside = tmp_path / "precious"
    outside.mkdir()
    os.symlink(outside, root / "trial_9")
    with pytest.raises(ValueError, match="outside the search folder"):
        trial_backup_dir(str(root), "9")


# 5. A corrupt image in a folder -------------------------------------------------


def image_folder(root, per_class=12, corrupt=()):
    from PIL import Image

    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(per_class):
            Image.new("RGB", (8, 8), (index * 9, 40 if label == "a" else 200, 0)).save(
                root / label / f"{index}.jpg"
            )
    for name in corrupt:
        (root / name).write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG body")
    return root


def test_corrupt_images_are_named_up_front_or_skipped_on_request(tmp_path, capsys):
    folder = image_folder(tmp_path / "pets", corrupt=("a/broken.jpg", "b/bad.png"))
    with pytest.raises(ValueError, match=r"2 image file\(s\) that cannot be decoded"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    with pytest.raises(ValueError, match=r"(?s)broken\.jpg.*bad\.png"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    data = kr.load_data(
        str(folder), batch_size=4, image_size=(8, 8), skip_bad_images=True
    )
    assert "Skipping 2 of 26 image files" in capsys.readouterr().out
    total = sum(
        int(labels.shape[0])
        for split in (data.train, data.validation, data.test)
        for _, labels in split
    )
    assert total == 24  # every good image, none of the bad
    assert sorted(os.listdir(folder / "a")) == sorted(
        [f"{i}.jpg" for i in range(12)] + ["broken.jpg"]
    )  # the user's folder is untouched


# Deep nesting and unexpected types: named errors, never tracebacks -------------


def test_cards_of_the_wrong_type_or_too_deep_exit_2_with_one_line(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.model_card import card_path

    path = kr.export(small_classifier(), str(tmp_path / "m.keras"), "keras",
                     preprocessing="tf")  # fmt: skip
    image = tmp_path / "x.png"
    Image.new("L", (16, 16)).save(image)
    for content, message in [
        ("[1, 2]", "holds a JSON list; a model card is a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply"),
        ('{"classes": 3, "classes": 4}', "duplicate key 'classes'"),
        ('{"input_shape": [16, 16, 0]}', "input shape [16, 16, 0]; an export"),
    ]:
        with open(card_path(path), "w") as handle:
            handle.write(content)
        assert main(["predict", path, str(image)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_the_cli_turns_any_other_exception_into_one_line_unless_debug(
    capsys, monkeypatch
):
    """An error no check named (here the KeyError an HDF5 file without a
    group raises) exits 2 with its type in one line; --debug re-raises."""
    from keras_residual.cli import main

    def broken(*args, **kwargs):
        raise KeyError("layer_names")

    import keras_residual.cli.zoo

    monkeypatch.setattr(keras_residual.cli.zoo, "read_catalog", broken)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "keras-residual: error: KeyError: 'layer_names' (--debug shows the traceback)\n"
    )
    with pytest.raises(KeyError):
        main(["--debug", "models"])


def test_a_deep_precision_cache_falls_back_with_its_warning(tmp_path, monkeypatch):
    from keras_residual.training.precision_probe import cache_path
    from keras_residual.training.precision_probe import read_cache

    monkeypatch.setenv("KERAS_RESIDUAL_CACHE_DIR", str(tmp_path))
    os.makedirs(os.path.dirname(cache_path()), exist_ok=True)
    with open(cache_path(), "w") as handle:
        handle.write("[" * 100_000 + "]" * 100_000)
    with pytest.warns(UserWarning, match="unreadable precision cache.*too deeply"):
        assert read_cache() == {}


def test_a_deep_safetensors_header_is_refused_by_name(tmp_path):
    import struct

    header = ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="header is nested too deeply"):
        kr.from_checkpoint(str(path))


def test_skipping_every_image_of_a_folder_or_class_names_the_users_folder(tmp_path):
    """Not the temporary folder of links the skipping reads through."""
    folder = image_folder(tmp_path / "pets", per_class=2)
    for path in (folder / "a").iterdir():
        path.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"pets'?: class folder 'a' has no image"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8),
                     skip_bad_images=True)  # fmt: skip
    for path in (folder / "b").iterdir():
        path.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"pets'?: none of its 4 image file"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8),
                     skip_bad_images=True)  # fmt: skip


def test_a_cardless_tflite_serves_images_and_a_folder_is_not_an_image(tmp_path, capsys):
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.model_card import card_path

    path = kr.export(small_classifier(), str(tmp_path / "m.tflite"), "tflite",
                     preprocessing="tf")  # fmt: skip
    os.remove(card_path(path))
    image = tmp_path / "x.png"
    Image.new("L", (16, 16)).save(image)
    assert main(["predict", path, str(image)]) == 0  # uint8 input: preprocessing
    capsys.readouterr()
    assert main(["predict", path, str(tmp_path)]) == 2
    assert "is a directory, not a file" in capsys.readouterr().err
    # A card that says 5 channels blames the card, not the image.
    with open(card_path(path), "w") as handle:
        json.dump({"input_shape": [16, 16, 5], "preprocessing": {"mode": "tf"}}, handle)
    assert main(["predict", path, str(image)]) == 2
    assert "says the model takes 5 channel(s), but its signature takes 1" in (
        capsys.readouterr().err
    )


# Special files: links to devices, FIFOs ---------------------------------------


def test_an_image_linked_to_dev_zero_or_a_fifo_is_named_not_read(tmp_path, capsys):
    """A link to /dev/zero once grew the process to 21 GB; a FIFO hung it."""
    folder = image_folder(tmp_path / "pets")
    os.symlink("/dev/zero", folder / "a" / "zero.png")
    os.mkfifo(folder / "b" / "pipe.png")
    with pytest.raises(ValueError, match=r"(?s)zero\.png: is a device.*/dev/zero"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    with pytest.raises(ValueError, match=r"pipe\.png: is a FIFO, not a regular"):
        kr.load_data(str(folder), batch_size=4, image_size=(8, 8))
    data = kr.load_data(
        str(folder), batch_size=4, image_size=(8, 8), skip_bad_images=True
    )
    assert "Skipping 2 of 26 image files" in capsys.readouterr().out
    assert data.sizes["train"] + data.sizes["validation"] + data.sizes["test"] == 24


def test_special_files_in_exports_and_weights_are_refused_unread(tmp_path):
    from keras_residual.serving.predictor import load_predictor

    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        kr.from_checkpoint(str(fifo))
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        load_weights(tiny_model(), str(fifo))
    # Inside a SavedModel, the digest its card is checked with reads every file.
    path = kr.export(small_classifier(), str(tmp_path / "export"), preprocessing="tf")
    os.symlink("/dev/zero", os.path.join(path, "variables", "zero"))
    with pytest.raises(ValueError, match=r"zero' is a device \(a link to '/dev/zero'"):
        load_predictor(path)
    os.remove(os.path.join(path, "variables", "zero"))
    os.mkfifo(os.path.join(path, "assets.pipe"))
    with pytest.raises(ValueError, match="assets.pipe' is a FIFO"):
        load_predictor(path)


# 13. Exports: card and artefact as one unit -------------------------------------


def test_file_export_card_names_its_artifact_and_a_mismatch_is_refused(tmp_path):
    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor
    from keras_residual.utils.download import file_digest

    path = str(tmp_path / "model.keras")
    stale = tmp_path / ".model.keras.kr-k1lled00.tmp.keras"
    stale.write_bytes(b"half an export")
    neighbour = tmp_path / ".other.keras.kr-x0000000.tmp.keras"
    neighbour.write_bytes(b"another writer's staging")
    kr.export(small_classifier(), path, "keras", preprocessing="tf")
    card = json.load(open(card_path(path)))
    assert card["artifact_sha256"] == file_digest(path, "sha256")
    assert not stale.exists() and neighbour.exists()
    load_predictor(path)
    # A kill after the card but before the rename leaves an older artefact.
    small_classifier(name="older").save(path)
    with pytest.raises(ValueError, match="does not match the sha256 in its model card"):
        load_predictor(path)


# 10. SavedModels that run their own file I/O -------------------------------------


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "saved_models")


@pytest.mark.parametrize(
    "name", sorted(n for n in os.listdir(SHIPPED) if not n.endswith(".md"))
)
def test_shipped_saved_models_pass_the_graph_check_and_their_digest(name):
    from keras_residual.serving.graph_check import check_saved_model
    from keras_residual.serving.model_card import read_model_card
    from keras_residual.utils.download import tree_digest

    path = os.path.join(SHIPPED, name)
    check_saved_model(path)
    card = read_model_card(path)
    assert card["artifact_sha256"] == tree_digest(path, exclude=("model_card.json",))


def test_a_saved_model_that_reads_a_file_is_refused_unless_trusted(tmp_path, capsys):
    import tensorflow as tf

    from keras_residual.cli import main
    from keras_residual.serving.predictor import load_predictor

    secret = tmp_path / "hostname"
    secret.write_text("the machine's name")

    class Snooper(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.uint8)])
        def serve(self, images):
            leaked = tf.io.read_file(str(secret))
            tf.io.write_file(str(tmp_path / "dropped.txt"), leaked)
            count = tf.shape(images)[0]
            return {"probabilities": tf.ones([count, 2]) * 0.5}

    path = str(tmp_path / "snooper")
    module = Snooper()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match=r"(?s)ReadFile.*WriteFile.*--trust-model"):
        load_predictor(path)
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (8, 8)).save(image)
    assert main(["predict", path, str(image)]) == 2
    assert "allow-list" in capsys.readouterr().err
    assert not (tmp_path / "dropped.txt").exists()


def _saved_model_with_a_load_time_writer(path, victim):
    """A SavedModel whose resource initializer, which TF's loader runs by
    itself, appends to `victim`; its `__saved_model_init_op` signature is
    removed, so that no signature leads to it."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    class Printer(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="")

        def _initialize(self):
            tf.print("appended", output_stream=f"file://{victim}")
            return tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)

    class Innocent(tf.Module):
        def __init__(self):
            self.printer = Printer()

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.uint8)])
        def serve(self, images):
            return {"probabilities": tf.ones([tf.shape(images)[0], 2]) * 0.5}

    module = Innocent()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    proto = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    with open(pb, "rb") as handle:
        proto.ParseFromString(handle.read())
    del proto.meta_graphs[0].signature_def["__saved_model_init_op"]
    with open(pb, "wb") as handle:
        handle.write(proto.SerializeToString())
    return proto


def test_a_saved_model_that_writes_a_file_at_load_time_is_refused(tmp_path, capsys):
    """The graph check covers what TF's loader runs by itself (resource
    initializers), not only what the signatures reach."""
    import tensorflow as tf
    from PIL import Image

    from keras_residual.cli import main
    from keras_residual.serving.predictor import load_predictor

    victim = tmp_path / "bashrc"
    victim.write_text("export PATH\n")
    path = str(tmp_path / "innocent")
    _saved_model_with_a_load_time_writer(path, victim)
    with pytest.raises(ValueError, match=r"(?s)PrintV2.*--trust-model"):
        load_predictor(path)
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["predict", path, str(image)]) == 2
    assert "PrintV2" in capsys.readouterr().err
    # As version 1 of a TF Serving base directory.
    base = tmp_path / "serving"
    base.mkdir()
    os.rename(path, base / "1")
    with pytest.raises(ValueError, match="PrintV2"):
        load_predictor(str(base))
    path = str(base / "1")
    assert victim.read_text() == "export PATH\n"
    # What the check guards against: loading it without the check writes.
    tf.saved_model.load(path)
    assert victim.read_text() != "export PATH\n"


def test_a_signature_naming_a_tensor_the_graph_lacks_is_refused(tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    from keras_residual.serving.graph_check import check_saved_model

    path = kr.export(small_classifier(), str(tmp_path / "export"), preprocessing="tf")
    check_saved_model(path)
    proto = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    with open(pb, "rb") as handle:
        proto.ParseFromString(handle.read())
    output = next(iter(proto.meta_graphs[0].signature_def["serve"].outputs.values()))
    output.name = "no_such_node:0"
    with open(pb, "wb") as handle:
        handle.write(proto.SerializeToString())
    with pytest.raises(ValueError, match=r"'serve' names the tensor 'no_such_node:0'"):
        check_saved_model(path)


@pytest.mark.parametrize(
    "model_name, preprocessing",
    [("ResNet18", "caffe"), ("ResNet50V2", "torch"), ("HighwayNet20", "tf")],
)
def test_exports_of_each_family_and_preprocessing_pass_the_graph_check(
    tmp_path, model_name, preprocessing
):
    from keras_residual.serving.graph_check import check_saved_model

    model = kr.build(
        model_name,
        input_shape=(32, 32, 3),
        classes=3,
        width_multiplier=0.125,
        depths=(1,) * len(kr.get_spec(model_name).stages),
    )
    path = kr.export(model, str(tmp_path / "export"), preprocessing=preprocessing)
    check_saved_model(path)


# Clearer answers ----------------------------------------------------------------


def test_unknown_activation_names_the_argument_and_close_matches():
    with pytest.raises(ValueError, match=r"`activation`.*'relux'.*Did you mean 'relu'"):
        kr.build("ResNet20", activation="relux")


def test_absurd_depths_and_widths_are_bounded_but_the_bound_can_be_raised():
    from keras_residual.core import spec

    with pytest.raises(ValueError, match=r"`depth` 1000000 is over the limit"):
        kr.build("ResNet20", depths=(10**6, 1, 1))
    with pytest.raises(ValueError, match=r"`filters` 1000000 is over the limit"):
        kr.build("ResNet20", widths=(10**6, 16, 16))
    original = dict(spec.LIMITS)
    try:
        spec.LIMITS["depth"] = 2000
        stage = kr.StageSpec(1500, 16, "basic")  # allowed once raised
        assert stage.depth == 1500
    finally:
        spec.LIMITS.update(original)


@pytest.mark.parametrize("size", ["0", "100000"])
def test_image_size_zero_or_absurd_is_refused_not_replaced(tmp_path, capsys, size):
    """--image-size 0 once trained at 256 px; 100000 failed after 105 s."""

    from keras_residual.cli import main

    started = time.monotonic()
    out = str(tmp_path / "run")
    code = main(["train", "--epochs", "1", "--image-size", size, "--out", out])
    assert code == 2 and time.monotonic() - started < 30
    assert f"received {size}" in capsys.readouterr().err and not os.path.exists(out)


def test_a_keras_file_declaring_a_huge_spec_is_refused_before_building(tmp_path):
    """3 stages x 1000 blocks x 8192 filters (each within the per-stage
    limits) once built for 74 s and then ran out of memory."""
    import zipfile

    path = tmp_path / "huge.keras"
    kr.build("ResNet20", input_shape=(32, 32, 1), classes=3, **TINY).save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for stage in config["config"]["spec"]["stages"]:
        stage.update(depth=1000, filters=8192)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"about 6e\+11 weights, over the limit"):
        keras.saving.load_model(path, safe_mode=True)
    assert time.monotonic() - started < 30


def _alias_level(i):
    """`c: &c [*b, *b, ...]`: each level 9 times the one before."""
    name, previous = chr(98 + i), chr(97 + i)
    return f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"


@pytest.mark.parametrize(
    "name, text, message",
    [
        # 377 bytes of nested aliases once took 39 s and 2.1 GB.
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(_alias_level(i) for i in range(8)),
            "the alias \\*a \\(aliases are not allowed",
        ),
        ("dup.yaml", "family: [residual]\nfamily: [dense]\n", "duplicate key 'family'"),
        ("dup.json", '{"depth": [1, 2], "depth": [3]}', "duplicate key 'depth'"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_search_spaces_refuse_aliases_duplicates_and_deep_nesting(
    tmp_path, capsys, name, text, message
):
    from keras_residual.cli import main
    from keras_residual.search.space import SearchSpace

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        SearchSpace.from_file(str(path))
    code = main(["tune", "--space", str(path), "--out", str(tmp_path / "search")])
    assert code == 2 and name in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("bad.yaml", "family: [residual\ndepth: 2\n", "line 2, column"),
        ("bad.json", '{"family": ["residual"], "depth": [1, 2,}', "line 1, column"),
    ],
)
@pytest.mark.parametrize("command", ["search", "tune"])  # tune: the 0.1 alias
def test_broken_search_space_files_exit_2_naming_file_line_and_column(
    tmp_path, capsys, name, text, where, command
):
    from keras_residual.cli import main

    path = tmp_path / name
    path.write_text(text)
    code = main([command, "--space", str(path), "--out", str(tmp_path / "search")])
    assert code == 2
    error = capsys.readouterr().err
    assert name in error and where in error


EXPORT_LOOP = """
import sys
import keras_residual as kr
model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, depths=(1, 1, 1))
path = sys.argv[1]
for index in range(1000):
    kr.export(model, path, "keras", preprocessing="tf", overwrite=True)
    print("exported", index, flush=True)
"""


@pytest.mark.slow  # a real process
def test_sigkill_during_export_leaves_nothing_that_loads_wrong(tmp_path):
    """A real process exporting in a loop is killed at a random instant;
    whatever it left either loads consistently or is refused, and the next
    export removes its staging."""
    import subprocess
    import sys

    from keras_residual.serving.model_card import card_path
    from keras_residual.serving.predictor import load_predictor
    from tests.conftest import subprocess_env

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = str(tmp_path / "model.keras")
    child = subprocess.Popen(
        [sys.executable, "-c", EXPORT_LOOP, path],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(PYTHONPATH=root),
    )
    try:
        assert child.stdout.readline().startswith("exported")
    finally:
        kill_when(child, after=float(np.random.default_rng().uniform(0.0, 0.5)))
    if os.path.exists(path):
        card = json.load(open(card_path(path)))
        try:
            load_predictor(path)
        except ValueError as error:  # killed between card and artefact
            assert "does not match the sha256" in str(error)
            assert card["artifact_sha256"]
    model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)
    kr.export(model, path, "keras", preprocessing="tf", overwrite=True)
    assert [n for n in os.listdir(tmp_path) if ".tmp" in n] == []
    load_predictor(path)


def test_saved_model_card_names_the_digest_of_its_files(tmp_path):
    from keras_residual.serving.predictor import load_predictor

    model = kr.ResNet20(input_shape=(32, 32, 1), classes=10, **TINY)
    path = kr.export(model, str(tmp_path / "export"), preprocessing="tf")
    card = json.load(open(os.path.join(path, "model_card.json")))
    assert len(card["artifact_sha256"]) == 64
    load_predictor(path)
    variables = os.path.join(path, "variables")
    data = [n for n in os.listdir(variables) if n.startswith("variables.data")][0]
    with open(os.path.join(variables, data), "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_predictor(path)
