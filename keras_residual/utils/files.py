"""Untrusted paths: a file the package reads must be a regular file (after
resolving links) of a bounded size, so that a link to `/dev/zero`, a FIFO
or a device never hangs a read or fills memory."""

import os
import stat


def files_under(directory, suffixes):
    """Every file under `directory` whose name ends with one of
    `suffixes` (case-insensitive), sorted.

    Args:
        directory: str. The folder, walked recursively.
        suffixes: tuple of str. Lower-case endings, e.g. `(".wav",)`.
    """
    found = []
    for folder, _, names in os.walk(directory):
        found.extend(
            os.path.join(folder, name)
            for name in names
            if name.lower().endswith(suffixes)
        )
    return sorted(found)


def special_file_reason(path, max_bytes=None):
    """Why `path` may not be read as a file, or None when it may.

    Args:
        path: str. The path (a link is followed).
        max_bytes: int or None. The largest size allowed. Defaults to `None`
            (any size).
    """
    try:
        info = os.stat(path)
    except OSError as error:
        return f"cannot be read ({error.strerror or type(error).__name__})"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "a special file"
        )
        target = os.path.realpath(path)
        via = f" (a link to {target!r})" if target != os.path.abspath(path) else ""
        return f"is {kind}{via}, not a regular file"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"has {info.st_size} bytes, over the limit of {max_bytes}"
    return None


def check_regular_file(path, what, max_bytes=None):
    """Refuses a path that is not a regular file of at most `max_bytes`.

    Args:
        path: str. The path (a link is followed).
        what: str. What the file is, for the message (e.g. "`weights` file").
        max_bytes: int or None. The largest size allowed. Defaults to `None`.

    Raises:
        ValueError: naming the file and what it is instead.
    """
    reason = special_file_reason(path, max_bytes)
    if reason is not None:
        raise ValueError(f"{what} {os.fspath(path)!r} {reason}.")


def links_inside(folder):
    """The links in `folder` and below, not followed: symbolic links, and
    files of more than one name (hard links), since writing such a file in
    place changes it under its other name too. A saved state that a later
    run writes into must not lead outside it.

    Args:
        folder: str. The folder.
    """
    found = []
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(parent, name)
            status = os.lstat(path)
            if stat.S_ISLNK(status.st_mode) or (
                stat.S_ISREG(status.st_mode) and status.st_nlink > 1
            ):
                found.append(path)
    return sorted(found)


def link_description(path):
    """`"a link to TARGET"` or `"a hard link (one of N names of one
    file)"`, for a message about a path `links_inside` found.

    Args:
        path: str. The link.
    """
    if os.path.islink(path):
        return f"a link to {os.path.realpath(path)!r}"
    return f"a hard link (one of {os.lstat(path).st_nlink} names of one file)"


def check_regular_files(folder, what, max_bytes=None):
    """Refuses a folder holding anything but regular files and folders (a
    FIFO or a link to /dev/zero hangs or floods the library that reads it).

    Args:
        folder: str. The folder, searched to the bottom.
        what: str. What its files are, for the message.
        max_bytes: callable or None. A file name's size limit, or None for
            no limit. Defaults to `None`.
    """
    for parent, _, files in os.walk(folder):
        for name in files:
            limit = max_bytes(name) if max_bytes else None
            check_regular_file(os.path.join(parent, name), what, limit)
