"""Writes the committed Fashion-MNIST slice: the first 400 training and the
first 100 test images (with their labels) of the real IDX files, as gzip
files laid out like the published ones (a header naming the file, with the
published time stamp), and `SHA256SUMS` of what it wrote.

    apt-get install dataset-fashion-mnist
    python tests/data/fashion_mnist/make_slice.py /usr/share/datasets/fashion-mnist
"""

import gzip
import hashlib
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# name: (count, time stamp of the published file's gzip header)
SLICE = {
    "train-images-idx3-ubyte.gz": (400, 0x59A7E9DE),
    "train-labels-idx1-ubyte.gz": (400, 0x59A7E9DE),
    "t10k-images-idx3-ubyte.gz": (100, 0x59A7E9F3),
    "t10k-labels-idx1-ubyte.gz": (100, 0x59A7E9F3),
}


def published_gzip(name, mtime, payload):
    """gzip bytes with the published files' header: FNAME set, XFL 0, OS 3."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(payload) + compressor.flush()
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03"
    header += name[: -len(".gz")].encode() + b"\x00"
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return header + body + trailer


def main(source):
    sums = []
    for name, (count, mtime) in SLICE.items():
        with gzip.open(os.path.join(source, name), "rb") as handle:
            data = handle.read()
        ndim = data[3]
        dims = list(struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim]))
        item = 1
        for d in dims[1:]:
            item *= d
        dims[0] = count
        header = data[:4] + struct.pack(f">{ndim}I", *dims)
        payload = header + data[4 + 4 * ndim : 4 + 4 * ndim + count * item]
        blob = published_gzip(name, mtime, payload)
        with open(os.path.join(HERE, name), "wb") as handle:
            handle.write(blob)
        sums.append(f"{hashlib.sha256(blob).hexdigest()}  {name}")
    with open(os.path.join(HERE, "SHA256SUMS"), "w") as handle:
        handle.write("\n".join(sums) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
