"""Reading PyTorch state dicts without PyTorch: `.safetensors` files (timm's
and the Hugging Face Hub's format) are parsed here with NumPy alone, and
checked in full (header, offsets, sizes) before a tensor is returned.
Pickled torch files (`.pth`, `.pt`, `.bin`) need `torch` and are read with
`weights_only=True`, so no code in the file runs."""

import json
import os
import struct

import numpy as np

from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.files import check_regular_file
from keras_residual.utils.strict_parsing import load_json

SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
    "BF16": np.uint16,  # widened to float32 on reading
}
# BF16 is read only (widened to float32): NumPy has no bfloat16 to write.
WRITABLE_DTYPES = {
    np.dtype(t): code for code, t in SAFETENSORS_DTYPES.items() if code != "BF16"
}
TORCH_SUFFIXES = (".pth", ".pt", ".bin")
# A header larger than this is not a weights file (safetensors caps it at
# 100 MB too).
MAX_HEADER_BYTES = 100 * 1024 * 1024


def checkpoint_format(path):
    """The format of a weights file by its first bytes: `"hdf5"`,
    `"keras"` (a `.keras` zip), `"torch"` (a zip or pickle from
    `torch.save`), `"safetensors"`, or None when it is none of these.

    Args:
        path: str. The file.
    """
    check_regular_file(path, "`weights` file")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK\x03\x04"):
        return "keras" if path.endswith(".keras") else "torch"
    if head[:1] == b"\x80" and path.endswith(TORCH_SUFFIXES):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return None


def read_state_dict(path):
    """Returns `{name: numpy array}` from a safetensors or torch file.

    Args:
        path: str. A `.safetensors` file, or a `torch.save` file (needs
            `torch`).

    Raises:
        ValueError: the file is truncated, corrupt or of another format.
    """
    path = os.fspath(path)
    kind = checkpoint_format(path)
    if kind == "safetensors":
        return read_safetensors(path)
    if kind == "torch":
        return _read_torch(path)
    raise ValueError(
        f"`weights` file {path!r} is neither a safetensors nor a torch state-dict file."
    )


def safetensors_header(path):
    """The parsed JSON header of a safetensors file, checked against the
    file's size: `{name: {"dtype", "shape", "data_offsets"}}`.

    Args:
        path: str. The file.

    Raises:
        ValueError: a truncated or corrupt file.
    """
    check_regular_file(path, "`weights` file")
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise _corrupt(path, "shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise _corrupt(path, f"header length {length} exceeds the file")
        try:
            header = load_json(handle.read(length))
        except (UnicodeDecodeError, ValueError) as error:  # and duplicate names
            raise _corrupt(path, f"header is not JSON ({error})") from None
        except RecursionError:
            raise _corrupt(path, "header is nested too deeply") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "header is not a JSON object")
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    for name, info in header.items():
        _check_entry(path, name, info, data_size)
    spans = sorted(tuple(info["data_offsets"]) for info in header.values())
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:  # two names reading the same bytes
            raise _corrupt(path, f"tensors overlap at data offset {start}")
    ends = sorted(info["data_offsets"][1] for info in header.values())
    if (ends[-1] if ends else 0) != data_size:
        raise _corrupt(
            path,
            f"the data section is {data_size} bytes but the tensors end at "
            f"{ends[-1] if ends else 0} (truncated or padded)",
        )
    return header


def read_safetensors(path):
    """Returns `{name: numpy array}` from a safetensors file.

    Args:
        path: str. The file.
    """
    header = safetensors_header(path)
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        handle.seek(8 + length)
        data = handle.read()
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data[start:end], dtype=dtype)
        array = array.reshape(info["shape"]).astype(dtype.newbyteorder("="))
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
    return tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes `{name: numpy array}` as a safetensors file, atomically.

    Args:
        path: str. The file.
        tensors: dict. Arrays of a dtype in `SAFETENSORS_DTYPES` (not BF16).
        metadata: dict of str or None. The header's `__metadata__`.
            Defaults to `None`.
    """
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        native = np.asarray(array).dtype.newbyteorder("=")
        if native not in WRITABLE_DTYPES:
            raise ValueError(
                f"Tensor {name!r} has dtype {native}; writable: "
                f"{sorted(str(d) for d in WRITABLE_DTYPES)}."
            )
        data = np.ascontiguousarray(array, dtype=native.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": WRITABLE_DTYPES[native],
            "shape": list(np.shape(array)),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for data in chunks:
            handle.write(data)


def _check_entry(path, name, info, data_size):
    if not isinstance(info, dict) or {"dtype", "shape", "data_offsets"} - set(info):
        raise _corrupt(path, f"entry {name!r} lacks dtype, shape or data_offsets")
    if info["dtype"] not in SAFETENSORS_DTYPES:
        raise ValueError(
            f"`weights` file {path!r}: tensor {name!r} has dtype "
            f"{info['dtype']!r}; supported: {sorted(SAFETENSORS_DTYPES)}."
        )
    start, end = info["data_offsets"]
    count = int(np.prod(info["shape"], dtype=np.int64))
    itemsize = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).itemsize
    if not 0 <= start <= end <= data_size or end - start != count * itemsize:
        raise _corrupt(
            path,
            f"tensor {name!r} ({info['dtype']} {info['shape']}) does not fit "
            f"its offsets {info['data_offsets']} in {data_size} data bytes",
        )


def _corrupt(path, reason):
    return ValueError(
        f"`weights` file {path!r} is not a valid safetensors file: {reason}."
    )


def _read_torch(path):
    try:
        import torch  # lazy: torch is optional
    except ImportError:
        raise ValueError(
            f"`weights` file {path!r} is a torch.save file; reading it needs "
            "`torch` (pip install torch), or convert it to safetensors."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"`weights` file {path!r} could not be read as a torch state dict: {error}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(
            f"`weights` file {path!r} holds a {type(state).__name__}, not a state dict."
        )
    return {
        key: value.detach().cpu().float().numpy()
        if value.is_floating_point()
        else value.cpu().numpy()
        for key, value in state.items()
        if hasattr(value, "detach")
    }
