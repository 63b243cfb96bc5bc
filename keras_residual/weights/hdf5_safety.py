"""Checks an HDF5 weights file before anything is read from it into a model:
no dataset may take its bytes from outside the file (external storage,
virtual datasets, external or soft links), and every floating-point tensor
must be finite. A file that fails is refused with a `ValueError` naming the
dataset, so a crafted file cannot read local files into a model and a
corrupted one cannot load NaNs."""

import h5py

from keras_residual.weights.value_checks import check_finite


def check_hdf5_file(handle, path, max_dataset_bytes=None):
    """Refuses links, external storage and virtual datasets anywhere in an
    open HDF5 file, and datasets larger than `max_dataset_bytes`, all from
    metadata alone; then non-finite values in its float datasets.

    Args:
        handle: `h5py.File`. The open file.
        path: str. The file's path, for the messages.
        max_dataset_bytes: int or None. The largest dataset allowed (a
            compressed dataset may declare far more than the file holds).
            Defaults to `None` (no bound).

    Raises:
        ValueError: naming the first offending dataset or link.
    """
    for name in _walk(handle, path):
        dataset = handle[name]
        declared = int(dataset.size) * dataset.dtype.itemsize
        if max_dataset_bytes is not None and declared > max_dataset_bytes:
            raise ValueError(
                f"`weights` file {path!r}: dataset {name!r} declares shape "
                f"{dataset.shape} ({declared} bytes), far larger than any "
                f"variable of the model could need ({max_dataset_bytes} bytes "
                "at most). Nothing was read or loaded."
            )
        if dataset.external:
            raise ValueError(
                f"`weights` file {path!r}: dataset {name!r} stores its data in "
                f"external files ({[e[0] for e in dataset.external]}); weights "
                "must be inside the file. Nothing was loaded."
            )
        if dataset.is_virtual:
            raise ValueError(
                f"`weights` file {path!r}: dataset {name!r} is a virtual "
                "dataset mapping other files; weights must be inside the "
                "file. Nothing was loaded."
            )
    for name in _walk(handle, path):
        check_finite(handle[name], f"{path!r}: dataset {name!r}")


def _walk(group, path, prefix="", above=()):
    """Yields every dataset name under `group`, refusing soft and external
    links (which h5py would follow to other objects or files) and a hard
    link back to a group above (a cycle: h5py would recurse until Python's
    stack ran out, 100 s on a busy machine)."""
    above = (*above, group.id)
    for key in group:
        link = group.get(key, getlink=True)
        name = f"{prefix}{key}"
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            kind = "an external" if isinstance(link, h5py.ExternalLink) else "a soft"
            raise ValueError(
                f"`weights` file {path!r}: {name!r} is {kind} link; weights "
                "files must hold their datasets directly. Nothing was loaded."
            )
        item = group[key]
        if isinstance(item, h5py.Group) and item.id in above:
            raise ValueError(
                f"`weights` file {path!r}: {name!r} links back to a group "
                "above it (a cycle); weights files are trees. Nothing was "
                "loaded."
            )
        if isinstance(item, h5py.Group):
            yield from _walk(item, path, f"{name}/", above)
        elif isinstance(item, h5py.Dataset):
            yield name
