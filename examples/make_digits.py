"""Regenerates `keras_residual/data/digits.npz` from scikit-learn's copy of
the UCI "Optical Recognition of Handwritten Digits" test set (1,797 8x8
images, 16 grey levels, 10 classes).

Run `python examples/make_digits.py`; the output is deterministic. The split is
stratified per class with `numpy.random.default_rng(1797)`: 70% train,
10% validation, 20% test (1,257 / 180 / 360 images).
"""

import os

import numpy as np
from sklearn.datasets import load_digits

OUT = os.path.join(
    os.path.dirname(__file__), "..", "keras_residual", "data", "digits.npz"
)
SPLIT_SEED = 1797
FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}


def stratified_split(labels, seed):
    rng = np.random.default_rng(seed)
    split = np.empty(len(labels), dtype=np.uint8)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(members) * FRACTIONS["validation"]))
        n_test = int(round(len(members) * FRACTIONS["test"]))
        split[members[:n_test]] = 2
        split[members[n_test : n_test + n_val]] = 1
        split[members[n_test + n_val :]] = 0
    return split


def main():
    digits = load_digits()
    images = digits.images.astype(np.uint8)  # 0..16
    labels = digits.target.astype(np.uint8)
    split = stratified_split(labels, SPLIT_SEED)
    np.savez_compressed(OUT, images=images, labels=labels, split=split)
    counts = {name: int((split == i).sum()) for i, name in enumerate(FRACTIONS)}
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT):,} bytes): {counts}")


if __name__ == "__main__":
    main()
