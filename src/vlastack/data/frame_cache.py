"""On-disk decoded-frame cache: camera frames and depth maps decoded once into memory-mapped files.

Why: by default WindowDataset holds every decoded frame in process memory (MT50, two cameras at
128 px: ~19 GB). With this cache the frames live in plain files and are read through the page
cache, which the kernel shares between DataLoader workers and evicts under memory pressure; the
process itself holds only the few frames of the batch it is building.

Layout under ``cache_dir``: per feature key, ``<key>-<fingerprint>.bin`` (the raw array: every
frame of every episode, in episode order, in the layout WindowDataset keeps in memory) and
``<key>-<fingerprint>.json`` (dtype, frame shape, episode offsets). The fingerprint hashes the
features, the episode table and the files of the episodes read (path, size, modification time),
so any change to them selects a new cache. Both files are written to temporary names and renamed into place, the manifest last: a
cache interrupted mid-build is never read, and the next build replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError

FORMAT_VERSION = 1
"""Bumped when the stored layout changes, so older caches are rebuilt rather than misread."""
FINGERPRINT_CHARS = 20
"""Hex digits of the dataset hash kept in file names (80 bits: no accidental collisions)."""
DEFAULT_CACHE_SUBDIR = "cache"
"""Default cache location, relative to the dataset root (see :func:`default_cache_dir`)."""


def frame_array(reader: DatasetReader, e: int, key: str, columns: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Episode ``e``'s frames of ``key`` in the layout WindowDataset keeps: camera streams uint8
    [N, 3, H, W]; depth maps float32 [N, 1, H, W] (metres). ``columns``: ``reader.read_columns(e)``
    if already read (depth lives there)."""
    if key in reader.video_keys:
        return np.ascontiguousarray(reader.read_video(e, key).transpose(0, 3, 1, 2))
    cols = reader.read_columns(e) if columns is None else columns
    if key not in cols:
        raise DatasetError(f"feature {key!r} is not in {reader.root}; its features are {sorted(reader.features)}")
    return np.ascontiguousarray(cols[key].astype(np.float32)[:, None])


def frame_layout(reader: DatasetReader, key: str) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and per-frame shape :func:`frame_array` produces for ``key``, from info.json alone."""
    shape = tuple(int(s) for s in reader.features[key]["shape"])
    if layout.is_video(reader.features[key]):
        if len(shape) != 3:
            raise DatasetError(f"{reader.root}: feature {key!r} has shape {list(shape)}, expected [height, width, channels]")
        return np.dtype(np.uint8), (shape[2], shape[0], shape[1])
    if len(shape) != 2:
        raise DatasetError(f"{reader.root}: feature {key!r} has shape {list(shape)}, expected [height, width]")
    return np.dtype(np.float32), (1, *shape)


def default_cache_dir(root: Path) -> Path:
    """``<dataset>/cache`` where that can be written; else, for a read-only dataset, a per-dataset
    folder under ``$XDG_CACHE_HOME/vlastack/frames`` (default ``~/.cache``)."""
    root = Path(root).resolve()
    inside = root / DEFAULT_CACHE_SUBDIR
    if os.access(inside if inside.exists() else root, os.W_OK):
        return inside
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vlastack" / "frames" / hashlib.sha256(str(root).encode()).hexdigest()[:16]


def dataset_fingerprint(reader: DatasetReader) -> str:
    """Hash of what the cache is made from: the features, the episode table's location and length
    columns, and the data and video files of the reader's episodes (path, size, mtime in ns).

    Episodes appended later (new files, new table rows) leave it unchanged, so a cache can be built
    while a collection is still adding episodes; any change to the episodes read changes it.
    """
    table = reader.episodes
    columns = [c for c in table.columns if c in ("episode_index", "length") or c.startswith(("data/", "videos/"))]
    h = hashlib.sha256(f"vlastack frame cache v{FORMAT_VERSION}\n".encode())
    h.update(json.dumps({"fps": reader.fps, "features": reader.features}, sort_keys=True).encode())
    h.update(table[columns].to_json(orient="records").encode())
    files = set()
    for _, row in table.iterrows():
        files.add(reader.info["data_path"].format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"])))
        for key in reader.video_keys:
            files.add(
                reader.info["video_path"].format(
                    video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]), file_index=int(row[f"videos/{key}/file_index"])
                )
            )
    for rel in sorted(files):
        try:
            st = (reader.root / rel).stat()
        except OSError as err:
            raise DatasetError(f"dataset file {reader.root / rel} cannot be read: {err}") from err
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:FINGERPRINT_CHARS]


@dataclass
class CachedFrames:
    """One key's cached frames: opened lazily, once per process (DataLoader workers open their own
    read-only mapping; pickling sends only the path, never the frames)."""

    path: Path
    """The ``.bin`` file."""
    dtype: str
    """numpy dtype name of the stored values."""
    shape: tuple[int, ...]
    """[total frames, *frame shape]."""
    offsets: list[int]
    """First row of each dataset episode (episode index order), plus the total at the end."""

    def __post_init__(self) -> None:
        self._array: np.memmap | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_array"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _array=None)

    def rows(self, episode: int, idx: np.ndarray) -> np.ndarray:
        """Frames ``idx`` (indices within the episode) of dataset episode ``episode``: a fresh in-memory array."""
        if self._array is None:
            self._array = np.memmap(self.path, dtype=self.dtype, mode="r", shape=self.shape)
        return np.asarray(self._array[self.offsets[episode] + idx])


def open_frame_cache(
    reader: DatasetReader, frame_keys: list[str], cache_dir: Path | None = None, progress: bool = False
) -> dict[str, CachedFrames]:
    """The cache of ``frame_keys`` for every episode of ``reader``'s dataset, built first where missing or stale.

    ``cache_dir``: where the files go; default :func:`default_cache_dir`. Building decodes one
    episode at a time (memory: one episode's frames) and refuses to start without the disk space it needs.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(reader.root)
    fingerprint = dataset_fingerprint(reader)
    lengths = [reader.length(e) for e in range(reader.num_episodes)]
    offsets = [0, *np.cumsum(lengths).tolist()]
    out: dict[str, CachedFrames] = {}
    missing: list[str] = []
    for key in frame_keys:
        found = _load_manifest(cache_dir, key, fingerprint, offsets)
        if found is None:
            missing.append(key)
        else:
            out[key] = found
    if missing:
        _build(reader, missing, cache_dir, fingerprint, offsets, progress)
        if dataset_fingerprint(reader) != fingerprint:
            raise DatasetError(
                f"{reader.root} changed while its frame cache was being built in {cache_dir}; "
                "build it again once the dataset is no longer being written"
            )
        for key in missing:
            found = _load_manifest(cache_dir, key, fingerprint, offsets)
            if found is None:  # another process replaced it between our rename and this read
                raise DatasetError(f"frame cache for {key!r} in {cache_dir} vanished right after it was built")
            out[key] = found
    return out


# ---- files ---------------------------------------------------------------------------------------
def _path(cache_dir: Path, key: str, fingerprint: str, suffix: str) -> Path:
    # Not Path.with_suffix: keys hold dots ("observation.images.corner2").
    return cache_dir / f"{key}-{fingerprint}{suffix}"


def _load_manifest(cache_dir: Path, key: str, fingerprint: str, offsets: list[int]) -> CachedFrames | None:
    """The cache of ``key`` if complete and made from this very dataset; None otherwise."""
    bin_path = _path(cache_dir, key, fingerprint, ".bin")
    try:
        meta = json.loads(_path(cache_dir, key, fingerprint, ".json").read_text())
        size = bin_path.stat().st_size
    except (OSError, json.JSONDecodeError):
        return None
    shape = tuple(meta.get("shape", ()))
    if (
        meta.get("format_version") != FORMAT_VERSION
        or meta.get("offsets") != offsets
        or not shape
        or size != int(np.prod(shape)) * np.dtype(meta["dtype"]).itemsize
    ):
        return None
    return CachedFrames(bin_path, meta["dtype"], shape, offsets)


def _build(reader: DatasetReader, frame_keys: list[str], cache_dir: Path, fingerprint: str, offsets: list[int], progress: bool) -> None:
    from tqdm import tqdm

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"cannot create the frame cache directory (cache_dir) {cache_dir}: {err}") from err
    total = offsets[-1]
    layouts = {k: frame_layout(reader, k) for k in frame_keys}
    need = sum(total * int(np.prod(shape)) * dtype.itemsize for dtype, shape in layouts.values())
    free = shutil.disk_usage(cache_dir).free
    if need > free:
        raise DatasetError(
            f"the frame cache needs {need / 1e9:.1f} GB in {cache_dir} (cache_dir) but only "
            f"{free / 1e9:.1f} GB are free; pass another cache_dir or keep frames in memory"
        )
    tmp = {k: _path(cache_dir, k, fingerprint, f".bin.tmp-{os.getpid()}") for k in frame_keys}
    arrays = {}
    try:
        for k, (dtype, shape) in layouts.items():
            # np.memmap cannot map an empty file; a dataset of zero frames gets an empty file and no mapping.
            arrays[k] = np.memmap(tmp[k], dtype=dtype, mode="w+", shape=(total, *shape)) if total else None
        needs_columns = any(k not in reader.video_keys for k in frame_keys)
        for e in tqdm(range(reader.num_episodes), desc="frame cache", unit="ep", disable=not progress):
            columns = reader.read_columns(e) if needs_columns else None
            for k in frame_keys:
                frames = frame_array(reader, e, k, columns)
                if frames.shape != (offsets[e + 1] - offsets[e], *layouts[k][1]):
                    raise DatasetError(
                        f"{reader.root}: episode {e} {k!r} decodes to shape {list(frames.shape)}, "
                        f"info.json and the episode length say {[offsets[e + 1] - offsets[e], *layouts[k][1]]}"
                    )
                arrays[k][offsets[e] : offsets[e + 1]] = frames
        for k, (dtype, shape) in layouts.items():
            if arrays[k] is not None:
                arrays[k].flush()
            else:
                tmp[k].touch()
            arrays[k] = None
            os.replace(tmp[k], _path(cache_dir, k, fingerprint, ".bin"))
            manifest = {
                "format_version": FORMAT_VERSION,
                "key": k,
                "dtype": dtype.name,
                "shape": [total, *shape],
                "offsets": offsets,
                "dataset": str(reader.root.resolve()),
            }
            _write_atomic(_path(cache_dir, k, fingerprint, ".json"), json.dumps(manifest))
            _remove_stale(cache_dir, k, fingerprint)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    part.write_text(text)
    os.replace(part, path)


def _remove_stale(cache_dir: Path, key: str, fingerprint: str) -> None:
    """Caches of ``key`` made from earlier versions of the dataset: unreachable, so their disk space is freed."""
    for path in cache_dir.glob(f"{key}-*"):
        found = re.fullmatch(rf"([0-9a-f]{{{FINGERPRINT_CHARS}}})\.(bin|json)", path.name[len(key) + 1 :])
        if found and found.group(1) != fingerprint:
            path.unlink(missing_ok=True)
