"""Fashion-MNIST offline: the four original IDX files, found where Debian's
`dataset-fashion-mnist` package, a data folder or the Keras cache keeps
them, checked against the published sha256 and prepared by TFDS's own
`fashion_mnist` builder into the ordinary TFDS cache.

Debian's copies are the upstream files with their gzip header normalised
(no file name, another time stamp; the compressed data is byte for byte the
same). TFDS checks the sha256 of the upstream bytes, so the header is put
back before TFDS sees a file: what TFDS prepares is then verified against
its own registered checksums as well as ours.
"""

import dataclasses
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import zlib

DEBIAN_PACKAGE = "dataset-fashion-mnist"
INSTALL_HINT = f"apt-get install {DEBIAN_PACKAGE}"
DATA_DIR_ENV = "KERAS_RESIDUAL_DATA_DIR"
TFDS_NAME = "fashion_mnist"
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# A gzip header: magic, deflate, flags, mtime, extra flags, OS (3: Unix).
_GZIP_MAGIC = b"\x1f\x8b\x08"
_FLAG_EXTRA, _FLAG_NAME, _FLAG_COMMENT, _FLAG_HCRC = 4, 8, 16, 2
_IDX_MAGIC = {1: 0x801, 3: 0x803}  # labels (uint8, 1-D), images (uint8, 3-D)
# How much a gzip header may add to the upstream size (a longer name, a
# comment) before a file is refused unread.
_HEADER_SLACK = 4096


@dataclasses.dataclass(frozen=True)
class IdxFile:
    """One published Fashion-MNIST file.

    Args:
        name: str. The file name, e.g. `"train-images-idx3-ubyte.gz"`.
        sha256: str. The sha256 of the published (upstream) file, as TFDS
            registers it.
        size: int. Its size in bytes.
        gzip_mtime: int. The time stamp of its gzip header, restored in
            copies whose header was normalised (Debian's).
        shape: tuple of int. The shape of the uint8 IDX array inside.
    """

    name: str
    sha256: str
    size: int
    gzip_mtime: int
    shape: tuple


# The upstream files (github.com/zalandoresearch/fashion-mnist, data/fashion),
# whose sha256 and sizes TFDS registers in url_checksums/fashion_mnist.txt.
FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        26421880,
        0x59A7E9DE,
        (60000, 28, 28),
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        29515,
        0x59A7E9DE,
        (60000,),
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        4422102,
        0x59A7E9F3,
        (10000, 28, 28),
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        5148,
        0x59A7E9F3,
        (10000,),
    ),
}


def debian_directory():
    """The folder where Debian's `dataset-fashion-mnist` installed the
    files, as `dpkg -L` lists it, or None when dpkg or the package is
    missing."""
    try:
        listing = subprocess.run(
            ["dpkg", "-L", DEBIAN_PACKAGE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if listing.returncode != 0:
        return None
    marker = "/" + FILES["train_images"].name
    for line in listing.stdout.splitlines():
        if line.endswith(marker):
            return os.path.dirname(line)
    return None


def search_directories(data_dir=None):
    """Where the IDX files are looked for, in order: `data_dir` (and its
    `fashion-mnist/` and `downloads/manual/` sub-folders),
    `$KERAS_RESIDUAL_DATA_DIR` (likewise), Debian's package, then the
    `keras.datasets` cache (`$KERAS_HOME/datasets/fashion-mnist`).

    Args:
        data_dir: str or None. A folder the user named. Defaults to `None`.
    """
    roots = [data_dir, os.environ.get(DATA_DIR_ENV)]
    found = []
    for root in roots:
        if root:
            root = os.path.expanduser(os.fspath(root))
            found += [
                root,
                os.path.join(root, "fashion-mnist"),
                os.path.join(root, "downloads", "manual"),
            ]
    debian = debian_directory()
    if debian:
        found.append(debian)
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    found.append(os.path.join(keras_home, "datasets", "fashion-mnist"))
    return list(dict.fromkeys(found))


def find_files(data_dir=None, files=None):
    """The first searched folder that holds all four files.

    Args:
        data_dir: str or None. A folder to search first. Defaults to `None`.
        files: dict or None. `{key: IdxFile}`. Defaults to `FILES`.

    Returns:
        `{key: path}`, or None when no folder holds them all.
    """
    files = files or FILES
    for directory in search_directories(data_dir):
        paths = {key: os.path.join(directory, spec.name) for key, spec in files.items()}
        if all(os.path.lexists(path) for path in paths.values()):
            return paths
    return None


def missing_files_message(data_dir=None, files=None):
    """Why Fashion-MNIST cannot be read offline, and how to get it.

    Args:
        data_dir: str or None. The folder the user named. Defaults to `None`.
        files: dict or None. `{key: IdxFile}`. Defaults to `FILES`.
    """
    files = files or FILES
    names = ", ".join(spec.name for spec in files.values())
    where = "; ".join(search_directories(data_dir))
    return (
        f"Fashion-MNIST files not found ({names}) in: {where}. Install them "
        f"with `{INSTALL_HINT}` (Debian/Ubuntu, 30 MB, offline afterwards), "
        f"put them in data_dir or ${DATA_DIR_ENV}, or pass download=True "
        "(`--download`) to let TFDS download them."
    )


def upstream_bytes(path, spec):
    """The published bytes of `spec` read from `path`: a regular file whose
    gzip header may have been normalised (Debian's copies) is given back
    the upstream header, and the result must match the published sha256.

    Args:
        path: str. The local copy.
        spec: `IdxFile`. The file it must be.

    Raises:
        ValueError: naming the file and how to get it, when it is not a
            regular file, has the wrong size, is not gzip, or its contents
            (its IDX header or its sha256) differ from the published file.
    """
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError as error:
        raise ValueError(_bad_file(path, spec, f"cannot be read ({error})")) from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(_bad_file(path, spec, "is not a regular file"))
    if not 18 < info.st_size <= spec.size + _HEADER_SLACK:
        raise ValueError(
            _bad_file(path, spec, f"has {info.st_size} bytes, expected {spec.size}")
        )
    with open(real, "rb") as handle:
        data = handle.read(spec.size + _HEADER_SLACK + 1)
    body = _gzip_body(data)
    if body is None:
        raise ValueError(_bad_file(path, spec, "is not a gzip file"))
    restored = (
        _GZIP_MAGIC
        + bytes([_FLAG_NAME])
        + struct.pack("<I", spec.gzip_mtime)
        + b"\x00\x03"
        + spec.name[: -len(".gz")].encode("ascii")
        + b"\x00"
        + body
    )
    _check_idx_header(path, spec, body)
    digest = hashlib.sha256(restored).hexdigest()
    if digest != spec.sha256:
        raise ValueError(
            _bad_file(
                path,
                spec,
                f"is truncated or corrupt: sha256 {digest} (with the published "
                f"gzip header), expected {spec.sha256}",
            )
        )
    return restored


def _gzip_body(data):
    """The compressed stream after a gzip header, or None if `data` is not
    gzip."""
    if len(data) < 18 or not data.startswith(_GZIP_MAGIC):
        return None
    flags, offset = data[3], 10
    if flags & _FLAG_EXTRA:
        if len(data) < offset + 2:
            return None
        offset += 2 + struct.unpack("<H", data[offset : offset + 2])[0]
    for flag in (_FLAG_NAME, _FLAG_COMMENT):
        if flags & flag:
            end = data.find(b"\x00", offset)
            if end < 0:
                return None
            offset = end + 1
    if flags & _FLAG_HCRC:
        offset += 2
    return data[offset:] if offset < len(data) else None


def _check_idx_header(path, spec, body):
    """Refuses a file whose IDX header does not give `spec.shape` (read
    from the first decompressed bytes only)."""
    header_size = 4 + 4 * len(spec.shape)
    try:
        head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, header_size)
    except zlib.error as error:
        raise ValueError(_bad_file(path, spec, f"is corrupt ({error})")) from None
    if len(head) < header_size:
        raise ValueError(_bad_file(path, spec, "is truncated (no IDX header)"))
    magic, *dims = struct.unpack(f">{1 + len(spec.shape)}I", head)
    if magic != _IDX_MAGIC[len(spec.shape)] or tuple(dims) != tuple(spec.shape):
        raise ValueError(
            _bad_file(
                path,
                spec,
                f"holds an IDX array of magic {magic:#x} and shape "
                f"{tuple(dims)}, expected {_IDX_MAGIC[len(spec.shape)]:#x} and "
                f"{tuple(spec.shape)}",
            )
        )


def _bad_file(path, spec, why):
    return (
        f"Fashion-MNIST file {path!r} ({spec.name}) {why}. Reinstall it with "
        f"`apt-get install --reinstall {DEBIAN_PACKAGE}`, or remove it and "
        "pass download=True (`--download`) to let TFDS download it."
    )


def prepared_builder(data_dir=None, download=False, files=None):
    """TFDS's `fashion_mnist` builder, prepared in `data_dir` (TFDS's
    default when None) from the local files, or by TFDS's own download when
    there are none and `download` is true.

    Args:
        data_dir: str or None. TFDS data directory, also searched for the
            IDX files. Defaults to TFDS's.
        download: bool. Let TFDS download missing files. Defaults to `False`.
        files: dict or None. `{key: IdxFile}`. Defaults to `FILES`.
    """
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    builder = tfds.builder(TFDS_NAME, data_dir=data_dir)
    if builder.is_prepared():
        return builder
    files = files or FILES
    paths = find_files(data_dir, files)
    if paths is None:
        if not download:
            raise ValueError(missing_files_message(data_dir, files))
        builder.download_and_prepare()
        return builder
    staging = tempfile.mkdtemp(prefix="fashion-mnist-")
    try:
        for key, path in paths.items():
            with open(os.path.join(staging, files[key].name), "wb") as handle:
                handle.write(upstream_bytes(path, files[key]))
        # TFDS reads files from `manual_dir` under their registered names,
        # checks their registered sha256, and prepares as after a download.
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=staging)
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return builder


def load_arrays(data_dir=None, download=False, files=None):
    """The train and test splits as uint8 arrays, through TFDS.

    Args:
        data_dir: str or None. See `prepared_builder`.
        download: bool. See `prepared_builder`. Defaults to `False`.
        files: dict or None. See `prepared_builder`.

    Returns:
        `{"train": (images, labels), "test": (images, labels)}`, images of
        shape `(n, 28, 28, 1)`, labels int32.
    """
    import tensorflow_datasets as tfds  # lazy: loads TensorFlow

    builder = prepared_builder(data_dir, download, files)
    arrays = {}
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(
            builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
        )
        arrays[split] = (images, labels.astype("int32"))
    return arrays
