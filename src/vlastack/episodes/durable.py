"""Durable, atomic file writes: a crash (SIGKILL or power loss) leaves the old file or the new one.

A file is written under a temporary name in its own directory, flushed to disk (``fsync``), renamed
over the final name (``os.replace``, atomic on POSIX file systems), and then the directory itself is
flushed, because a rename lives in the directory entry: without that fsync a power cut after the
rename can bring back the old name, or no name at all. Directories created on the way are flushed
into their parents for the same reason.

Temporary files are named ``.tmp-<name>``; the dataset writer deletes leftovers when it reopens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"


def tmp_path(path: Path) -> Path:
    """The temporary name ``path`` is written under before it is published."""
    return path.with_name(TMP_PREFIX + path.name)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (names created, renamed or removed in it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new directories survive a power cut (each one flushed into its parent)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def fsync_file(path: Path) -> None:
    """Flush one file's contents to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def publish(tmp: Path, path: Path) -> None:
    """Make the finished file ``tmp`` durable, rename it to ``path`` and make the rename durable."""
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to produce the file under its temporary name, then :func:`publish` it."""
    make_dirs(path.parent)
    tmp = tmp_path(path)
    write(tmp)
    publish(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file durably and atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON durably and atomically (indented, for people reading meta/*.json)."""
    write_text_atomic(path, json.dumps(obj, indent=2))
