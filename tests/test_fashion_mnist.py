"""Fashion-MNIST offline: finding the IDX files, checking them against
their sha256, restoring Debian's normalised gzip headers, and preparing
them with TFDS's real `fashion_mnist` builder, on a committed slice of the
real files (tests/data/fashion_mnist: the first 400 training and 100 test
images, MIT licence)."""

import gzip
import hashlib
import json
import os
import shutil
import stat
import struct

import numpy as np
import pytest

from keras_residual.data import fashion_mnist
from keras_residual.data import load_data
from tests.conftest import run_cli
from tests.conftest import run_cli_here
from tests.conftest import subprocess_env

SLICE = os.path.join(os.path.dirname(__file__), "data", "fashion_mnist")
SLICE_COUNTS = {"train": 400, "test": 100}
KEYS = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def slice_specs():
    """`IdxFile`s of the slice: sha256 from SHA256SUMS (written by
    `sha256sum`-equivalent hashing when the slice was made), sizes and
    shapes from the files themselves."""
    sums = {}
    with open(os.path.join(SLICE, "SHA256SUMS")) as handle:
        for line in handle:
            digest, name = line.split()
            sums[name] = digest
    specs = {}
    for key, name in KEYS.items():
        split = key.split("_")[0]
        count = SLICE_COUNTS[split]
        shape = (count, 28, 28) if key.endswith("images") else (count,)
        published = fashion_mnist.FILES[key]
        specs[key] = fashion_mnist.IdxFile(
            name,
            sums[name],
            os.path.getsize(os.path.join(SLICE, name)),
            published.gzip_mtime,
            shape,
        )
    return specs


def debian_copy(source, target, mtime=1591348973):
    """Writes `source` as Debian ships such files: the gzip header
    normalised by strip-nondeterminism (no file name, another time stamp),
    the compressed data unchanged."""
    data = open(source, "rb").read()
    assert data[3] == 8  # the slice names its file, as the published files do
    body = data[data.index(b"\x00", 10) + 1 :]
    normalised = b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\x03"
    with open(target, "wb") as handle:
        handle.write(normalised + body)


@pytest.fixture
def debian_folder(tmp_path):
    folder = tmp_path / "debian"
    folder.mkdir()
    for name in KEYS.values():
        debian_copy(os.path.join(SLICE, name), folder / name)
    return folder


@pytest.fixture
def no_dpkg(tmp_path, monkeypatch):
    """A `dpkg` that knows no dataset-fashion-mnist (as on CI), and an
    empty Keras cache, so only the folders a test names are searched."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dpkg"
    script.write_text(
        "#!/bin/sh\necho \"dpkg-query: package '$2' is not installed\" >&2\nexit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(fashion_mnist.DATA_DIR_ENV, raising=False)
    return bin_dir


def test_debian_style_copies_get_back_the_published_bytes(debian_folder):
    specs = slice_specs()
    for spec in specs.values():
        published = open(os.path.join(SLICE, spec.name), "rb").read()
        copy = debian_folder / spec.name
        assert open(copy, "rb").read() != published
        restored = fashion_mnist.upstream_bytes(str(copy), spec)
        assert restored == published
        assert hashlib.sha256(restored).hexdigest() == spec.sha256
        # The published file itself passes unchanged.
        assert fashion_mnist.upstream_bytes(os.path.join(SLICE, spec.name), spec) == (
            published
        )


def test_published_table_matches_tfds_registered_checksums():
    import tensorflow_datasets as tfds

    registered = {
        info.filename: info
        for info in tfds.builder_cls("fashion_mnist").url_infos.values()
    }
    for spec in fashion_mnist.FILES.values():
        assert registered[spec.name].checksum == spec.sha256
        assert registered[spec.name].size == spec.size


def test_truncated_corrupt_resized_and_special_files_are_refused(tmp_path):
    spec = slice_specs()["train_images"]
    published = open(os.path.join(SLICE, spec.name), "rb").read()
    cases = {
        "truncated": (published[: len(published) // 2], "sha256"),
        "short": (published[:60], "sha256|truncated|corrupt"),
        "flipped": (
            published[:5000] + bytes([published[5000] ^ 0xFF]) + published[5001:],
            "sha256|corrupt",
        ),
        "not_gzip": (b"P5 28 28 255\n" + bytes(800), "not a gzip file"),
        "huge": (published + bytes(8192), f"bytes, expected {spec.size}"),
    }
    for label, (content, pattern) in cases.items():
        path = tmp_path / f"{label}.gz"
        path.write_bytes(content)
        with pytest.raises(ValueError, match=pattern) as error:
            fashion_mnist.upstream_bytes(str(path), spec)
        message = str(error.value)
        assert spec.name in message and str(path) in message
        assert "apt-get install --reinstall dataset-fashion-mnist" in message
    fifo = tmp_path / "fifo.gz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        fashion_mnist.upstream_bytes(str(fifo), spec)
    with pytest.raises(ValueError, match="not a regular file"):
        fashion_mnist.upstream_bytes(str(tmp_path), spec)
    link = tmp_path / "link.gz"
    link.symlink_to(os.path.join(SLICE, spec.name))
    assert fashion_mnist.upstream_bytes(str(link), spec) == published


def test_an_idx_header_of_another_shape_is_refused_before_the_digest():
    spec = slice_specs()["test_labels"]
    wrong = fashion_mnist.IdxFile(
        spec.name, spec.sha256, spec.size, spec.gzip_mtime, (60000,)
    )
    with pytest.raises(ValueError, match=r"shape \(100,\), expected 0x801 and"):
        fashion_mnist.upstream_bytes(os.path.join(SLICE, spec.name), wrong)


def test_files_are_found_in_data_dir_then_env_then_debian_then_keras_cache(
    tmp_path, no_dpkg, monkeypatch
):
    specs = slice_specs()
    assert fashion_mnist.find_files(None, specs) is None
    keras_cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    debian = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    env_dir = tmp_path / "env" / "fashion-mnist"
    data_dir = tmp_path / "data" / "downloads" / "manual"
    for folder in (keras_cache, debian, env_dir, data_dir):
        shutil.copytree(SLICE, folder)
    assert fashion_mnist.find_files(None, specs)["train_images"] == str(
        keras_cache / KEYS["train_images"]
    )
    listing = "\n".join(
        ["/.", "/usr/share/doc/dataset-fashion-mnist/README.md.gz"]
        + [str(debian / name) for name in KEYS.values()]
    )
    (no_dpkg / "dpkg").write_text(f"#!/bin/sh\ncat <<'EOF'\n{listing}\nEOF\n")
    assert fashion_mnist.debian_directory() == str(debian)
    assert fashion_mnist.find_files(None, specs)["test_labels"] == str(
        debian / KEYS["test_labels"]
    )
    monkeypatch.setenv(fashion_mnist.DATA_DIR_ENV, str(tmp_path / "env"))
    assert fashion_mnist.find_files(None, specs)["test_labels"] == str(
        env_dir / KEYS["test_labels"]
    )
    found = fashion_mnist.find_files(str(tmp_path / "data"), specs)
    assert found["test_labels"] == str(data_dir / KEYS["test_labels"])
    # A folder with three of the four files is passed over.
    os.remove(data_dir / KEYS["train_labels"])
    found = fashion_mnist.find_files(str(tmp_path / "data"), specs)
    assert found["test_labels"] == str(env_dir / KEYS["test_labels"])


def _slice_arrays(prefix, count):
    with gzip.open(os.path.join(SLICE, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(count, 28, 28)
    with gzip.open(os.path.join(SLICE, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read()[8:], np.uint8)
    return images, labels


def _as_set(images, labels):
    return sorted(
        (hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), int(label))
        for image, label in zip(images, labels)
    )


@pytest.fixture
def tfds_slice(monkeypatch, debian_folder, no_dpkg):
    """TFDS's `fashion_mnist` builder told to expect the slice: its example
    counts (as TFDS's own mnist test sets them) and its registered
    checksums; our table of published files likewise."""
    from tensorflow_datasets.core.download import checksums
    from tensorflow_datasets.image_classification import mnist

    specs = slice_specs()
    monkeypatch.setattr(mnist, "_TRAIN_EXAMPLES", SLICE_COUNTS["train"])
    monkeypatch.setattr(mnist, "_TEST_EXAMPLES", SLICE_COUNTS["test"])
    monkeypatch.setattr(
        mnist.FashionMNIST,
        "url_infos",
        {
            mnist.FashionMNIST.URL + spec.name: checksums.UrlInfo(
                size=spec.size, checksum=spec.sha256, filename=spec.name
            )
            for spec in specs.values()
        },
    )
    monkeypatch.setattr(fashion_mnist, "FILES", specs)
    monkeypatch.setenv(fashion_mnist.DATA_DIR_ENV, str(debian_folder))
    return specs


def test_load_data_prepares_the_files_with_tfds_builder_offline(tmp_path, tfds_slice):
    tfds_dir = tmp_path / "tensorflow_datasets"
    before = set(os.listdir(tmp_path))
    data = load_data(
        "fashion_mnist",
        data_dir=str(tfds_dir),
        batch_size=64,
        validation_fraction=0.1,
        seed=3,
    )
    # The ordinary TFDS cache, written by TFDS's builder.
    prepared = tfds_dir / "fashion_mnist" / "3.0.1"
    assert (prepared / "dataset_info.json").is_file()
    assert any(name.startswith("fashion_mnist-train.") for name in os.listdir(prepared))
    assert set(os.listdir(tmp_path)) - before == {"tensorflow_datasets"}
    assert data.source == "fashion_mnist" and data.classes == 10
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert data.image_shape == (28, 28, 1) and data.augment == "crop_flip"
    assert data.sizes == {"train": 360, "validation": 40, "test": 100}
    # The test split is the slice's 100 test images, untouched.
    pixels, labels = [], []
    for images, batch_labels in data.test:
        pixels.append(np.round((images.numpy()[..., 0] + 1.0) * 127.5))
        labels.append(batch_labels.numpy())
    expected = _slice_arrays("t10k", 100)
    assert _as_set(np.concatenate(pixels).astype("uint8"), np.concatenate(labels)) == (
        _as_set(*expected)
    )
    # Train and validation are disjoint and together the 400 training images.
    seen = []
    for split in (data.validation,):
        for images, batch_labels in split:
            seen += _as_set(
                np.round((images.numpy()[..., 0] + 1.0) * 127.5).astype("uint8"),
                batch_labels.numpy(),
            )
    train_set = _as_set(*_slice_arrays("train", 400))
    assert len(seen) == 40 and set(seen) <= set(train_set)
    # A second call reads TFDS's cache: the IDX files are not needed again.
    for name in os.listdir(os.environ[fashion_mnist.DATA_DIR_ENV]):
        os.remove(os.path.join(os.environ[fashion_mnist.DATA_DIR_ENV], name))
    again = load_data(
        "tfds:fashion_mnist", data_dir=str(tfds_dir), validation_fraction=0.1, seed=3
    )
    assert again.sizes == data.sizes


def test_without_local_files_download_uses_tfds_own_download(
    tmp_path, tfds_slice, server, monkeypatch
):
    from tensorflow_datasets.image_classification import mnist

    for name in KEYS.values():
        shutil.copy(os.path.join(SLICE, name), server["root"] / name)
    # TFDS's registered URLs, pointed at a server on 127.0.0.1.
    monkeypatch.setattr(
        mnist.FashionMNIST,
        "url_infos",
        {
            server["url"] + url[len(mnist.FashionMNIST.URL) :]: info
            for url, info in mnist.FashionMNIST.url_infos.items()
        },
    )
    monkeypatch.setattr(mnist.FashionMNIST, "URL", server["url"])
    monkeypatch.delenv(fashion_mnist.DATA_DIR_ENV)
    tfds_dir = tmp_path / "tensorflow_datasets"
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist"):
        load_data("fashion_mnist", data_dir=str(tfds_dir))
    assert server["requests"] == []
    data = load_data("fashion_mnist", data_dir=str(tfds_dir), download=True)
    assert sorted(server["requests"]) == sorted(f"/{name}" for name in KEYS.values())
    assert data.sizes == {"train": 360, "validation": 40, "test": 100}


def test_a_corrupt_file_stops_before_tfds_writes_anything(
    tmp_path, tfds_slice, debian_folder
):
    target = debian_folder / KEYS["train_labels"]
    target.write_bytes(target.read_bytes()[:-20])
    tfds_dir = tmp_path / "tensorflow_datasets"
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz.*truncated"):
        load_data("fashion_mnist", data_dir=str(tfds_dir))
    prepared = tfds_dir / "fashion_mnist" / "3.0.1"
    assert not (prepared / "dataset_info.json").exists()


@pytest.mark.slow  # a real process
def test_missing_files_name_each_file_and_the_debian_package(tmp_path, no_dpkg):
    with pytest.raises(ValueError) as error:
        load_data("fashion_mnist", data_dir=str(tmp_path / "tfds"))
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "download=True" in message
    assert str(tmp_path / "tfds") in message
    env = subprocess_env(PATH=os.environ["PATH"], KERAS_HOME=os.environ["KERAS_HOME"])
    env.pop(fashion_mnist.DATA_DIR_ENV, None)
    result = run_cli(
        "train", "--dataset", "fashion_mnist", "--data-dir", tmp_path / "tfds",
        "--out", tmp_path / "run", env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "keras-residual" in line]
    assert len(lines) == 1 and "apt-get install dataset-fashion-mnist" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists() or not os.listdir(tmp_path / "run")


@pytest.mark.skipif(
    fashion_mnist.debian_directory() is None,
    reason="an extra check on the full files where Debian's package is installed",
)
@pytest.mark.slow  # over ~7 s: out of the fast tier
def test_the_installed_debian_files_prepare_the_full_dataset(tmp_path):
    arrays = fashion_mnist.load_arrays(str(tmp_path))
    assert arrays["train"][0].shape == (60000, 28, 28, 1)
    assert arrays["test"][0].shape == (10000, 28, 28, 1)
    assert np.bincount(arrays["train"][1]).tolist() == [6000] * 10
    assert np.bincount(arrays["test"][1]).tolist() == [1000] * 10
    mode = os.stat(fashion_mnist.debian_directory()).st_mode
    assert stat.S_ISDIR(mode)


def _reference_script():
    import importlib.util

    path = os.path.join(os.path.dirname(SLICE), "..", "..", "examples")
    spec = importlib.util.spec_from_file_location(
        "reference_models", os.path.join(path, "reference_models.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # a real process
def test_reference_script_ships_weights_scored_on_raw_uint8_test_images(
    tmp_path, tfds_slice
):
    import keras_residual as kr

    script = _reference_script()
    entry = script.reproduce(
        "ResNet20",
        1,
        str(tmp_path / "runs"),
        0,
        saved_models=str(tmp_path / "saved_models"),
        pretrained=str(tmp_path / "pretrained"),
        dataset="fashion_mnist",
        data_dir=str(tmp_path / "tfds"),
    )
    assert entry["file"] == "ResNet20-fashion_mnist.h5"
    assert entry["input_size"] == 28 and entry["input_channels"] == 1
    assert entry["class_names"] == list(fashion_mnist.CLASS_NAMES)
    assert entry["batch_size"] == 128 and entry["preprocessing"] == "tf"
    assert "--dataset fashion_mnist --models ResNet20" in entry["command"]
    # The recorded accuracy is what the weights give on the raw test images.
    model = kr.ResNet20(
        input_shape=(28, 28, 1),
        weights=str(tmp_path / "pretrained" / entry["file"]),
    )
    images, labels = _slice_arrays("t10k", 100)
    scaled = images[..., None].astype("float32") / 127.5 - 1.0
    predicted = model.predict(scaled, verbose=0).argmax(-1)
    assert entry["test_accuracy"] == pytest.approx(
        float((predicted == labels).mean()), abs=0.011
    )
    card_path = tmp_path / "saved_models" / "ResNet20-fashion_mnist" / "model_card.json"
    card = json.loads(card_path.read_text())
    assert card["class_names"] == list(fashion_mnist.CLASS_NAMES)


@pytest.mark.slow  # the shipped model, its SavedModel and `predict`
@pytest.mark.skipif(
    "ResNet20" not in __import__("keras_residual").weights.FASHION_MNIST_WEIGHTS,
    reason="before examples/reference_models.py --dataset fashion_mnist has run",
)
def test_shipped_weights_and_saved_model_classify_real_test_images(tmp_path):
    import keras_residual as kr
    from keras_residual.weights import FASHION_MNIST_WEIGHTS
    from keras_residual.weights import get_weights_entry

    entry = FASHION_MNIST_WEIGHTS["ResNet20"]
    assert entry["test_accuracy"] >= 0.94 and entry["input_size"] == 28
    registered = get_weights_entry("ResNet20", "fashion_mnist")
    assert tuple(registered.class_names) == fashion_mnist.CLASS_NAMES
    model = kr.ResNet20(weights="fashion_mnist")
    assert model.input_shape == (None, 28, 28, 1) and model.output.shape[-1] == 10
    images, labels = _slice_arrays("t10k", 100)
    scaled = images[..., None].astype("float32") / 127.5 - 1.0
    predicted = model.predict(scaled, verbose=0).argmax(-1)
    assert (predicted == labels).mean() >= 0.88
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    saved_model = os.path.join(root, entry["saved_model"])
    from keras_residual.serving.predictor import load_predictor

    served = load_predictor(saved_model).predict_images(images[..., None])
    assert np.array_equal(served.argmax(-1), predicted)
    # Grey images of another size, and RGB ones, get the same answer
    # through the command line.
    from PIL import Image

    paths = []
    for i in range(12):
        grey = Image.fromarray(images[i])
        paths.append(tmp_path / f"{i}-grey28.png")
        grey.save(paths[-1])
        paths.append(tmp_path / f"{i}-grey84.png")
        grey.resize((84, 84), Image.NEAREST).save(paths[-1])
        paths.append(tmp_path / f"{i}-rgb28.png")
        grey.convert("RGB").save(paths[-1])
    result = run_cli_here("predict", saved_model, *paths, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    answers = json.loads(result.stdout)
    names = [answer["top_k"][0]["name"] for answer in answers]
    for i in range(12):
        expected = fashion_mnist.CLASS_NAMES[predicted[i]]
        assert names[3 * i] == names[3 * i + 2] == expected
    same_upscaled = sum(names[3 * i + 1] == names[3 * i] for i in range(12))
    assert same_upscaled >= 11
