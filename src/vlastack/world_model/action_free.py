"""Make an action-free copy of a dataset: the same episodes and videos with the ``action`` feature
removed from the data files, info.json and stats.json, as video-only data would arrive.

For experiments on latent actions: a model trained on the copy provably never saw an action.
Videos and episode metadata are hard-linked when source and copy share a file system (copied otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_dataset_files(src: Path, dst: Path, rewrite: Callable[[Path, Path, Path], bool]) -> Path:
    """Copy dataset ``src`` file by file into ``dst``'s temporary sibling ``<dst>.tmp`` and return it (the
    caller adds its own files, then renames it to ``dst``, so a crash never leaves a trusted half copy).
    ``rewrite(rel, path, out)`` writes its own version of a file and returns True, or returns False to
    have it hard-linked (copied across file systems). Caches are skipped: they are rebuilt on demand."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if not path.is_file() or rel.parts[0] == "cache":
            continue
        out = tmp / rel
        if not rewrite(rel, path, out):
            link_or_copy(path, out)
    return tmp


def strip_actions(src: str | Path, dst: str | Path) -> DatasetReader:
    """Write the action-free copy of dataset ``src`` to the new directory ``dst`` and return its reader."""
    src, dst = Path(src), Path(dst)
    reader = DatasetReader(src)
    if keys.ACTION not in reader.features:
        raise DatasetError(f"{src} has no {keys.ACTION!r} feature to remove")
    if dst.exists():
        raise DatasetError(f"{dst} already exists; choose a new directory for the action-free copy")

    def rewrite(rel: Path, path: Path, out: Path) -> bool:
        if rel.parts[0] == "data" and path.suffix == ".parquet":
            table = pq.read_table(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.drop_columns([c for c in table.column_names if c == keys.ACTION]), out)
        elif str(rel) == layout.INFO_PATH:
            info = json.loads(path.read_text())
            info["features"].pop(keys.ACTION)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(info, indent=4))
        elif str(rel) == layout.STATS_PATH:
            stats = json.loads(path.read_text())
            stats.pop(keys.ACTION, None)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(stats))
        else:
            return False
        return True

    tmp = copy_dataset_files(src, dst, rewrite)
    tmp.rename(dst)
    return DatasetReader(dst)
