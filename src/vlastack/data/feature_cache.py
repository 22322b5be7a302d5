"""On-disk cache of a frozen image trunk's output: one feature map per camera frame, computed once.

Why: a policy on a frozen pretrained trunk (l1-effnet) spends most of a training step in the trunk's
forward pass, whose result depends on the frame alone. Computed once per frame and stored here, training
reads the maps instead (float16 [C, h, w] per frame, e.g. [112, 6, 6] for EfficientNet-Lite0 at 96 px,
stride 16: 8 KB a frame) and costs what the small trainable head costs. Acting never reads this cache:
the policy runs the trunk on the real frame.

The cache knows nothing about models. An *encoder* is any object with

* ``name``: short text naming the trunk and its settings (part of the file name, e.g. ``effnet_lite0-s16-96x96``);
* ``identity``: a JSON-able dict of everything its output depends on (weights hash, stride, image size,
  resize method, code version); hashed into the fingerprint, so another trunk never reads these maps;
* ``frame_shape``: shape of one frame's entry, e.g. (C, h, w), or (K, C, h, w) for K maps of shifted copies;
* ``__call__(frames)``: uint8 frames [N, 3, H, W] as stored (data/frame_cache.py's layout) -> float [N, *frame_shape].

Layout under ``cache_dir`` (by default the frame cache's, ``<dataset>/cache``): ``<key>.<name>-<fingerprint>.bin``
(every frame of every episode, in episode order, float16) and ``<key>.<name>-<fingerprint>.json`` (the manifest:
dtype, shape, episode offsets, the encoder's identity). The fingerprint hashes the dataset's fingerprint
(data/frame_cache.py: features, episode table, files' sizes and mtimes) together with the encoder's identity.
Like the frame cache, the data file is written under a temporary name and renamed into place before the
manifest, which is written last and atomically: an interrupted build leaves no manifest and is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from vlastack.data.frame_cache import FINGERPRINT_CHARS, CachedFrames, dataset_fingerprint, default_cache_dir, frame_array
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import ConfigError, DatasetError

FORMAT_VERSION = 1
"""Bumped when the stored layout changes, so older caches are rebuilt rather than misread."""
DTYPE = np.dtype(np.float16)
"""Stored precision: half the bytes of float32; the trunk's activations (ReLU6-bounded stems, BatchNorm'd
projections of order 1-10) keep about 3 significant digits, far below what a shift augmentation changes."""
FRAMES_PER_CALL = 64
"""Frames handed to the encoder at once while building (memory: 64 decoded frames and their maps)."""


class FeatureEncoder(Protocol):
    """What :func:`open_feature_cache` needs of a trunk (see the module docstring)."""

    name: str
    identity: dict[str, Any]
    frame_shape: tuple[int, ...]

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...


def feature_fingerprint(reader: DatasetReader, encoder: FeatureEncoder) -> str:
    """Hash of the dataset (its frame-cache fingerprint) and of everything the encoder's output depends on."""
    return _fingerprint(dataset_fingerprint(reader), encoder.identity)


def _fingerprint(dataset: str, identity: dict[str, Any]) -> str:
    h = hashlib.sha256(f"vlastack feature cache v{FORMAT_VERSION}\n{dataset}\n".encode())
    h.update(json.dumps(identity, sort_keys=True).encode())
    return h.hexdigest()[:FINGERPRINT_CHARS]


def open_feature_cache(
    reader: DatasetReader, key: str, encoder: FeatureEncoder, cache_dir: str | Path | None = None, progress: bool = False
) -> CachedFrames:
    """The encoder's maps of every frame of camera stream ``key`` in ``reader``'s dataset, built first where
    missing or stale. ``cache_dir``: where the files go; default ``data.frame_cache.default_cache_dir``."""
    if key not in reader.video_keys:
        raise DatasetError(f"feature cache: {key!r} is not a camera stream of {reader.root}; it has {reader.video_keys}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", encoder.name or ""):
        raise ConfigError(f"feature cache: the encoder's name {encoder.name!r} must be letters, digits, '_', '.' or '-' (a file name)")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(reader.root)
    fingerprint = feature_fingerprint(reader, encoder)
    lengths = [reader.length(e) for e in range(reader.num_episodes)]
    offsets = [0, *np.cumsum(lengths).tolist()]
    stem = f"{key}.{encoder.name}"
    found = _load_manifest(cache_dir, stem, fingerprint, offsets, encoder)
    if found is not None:
        return found
    _build(reader, key, encoder, cache_dir, stem, fingerprint, offsets, progress)
    if dataset_fingerprint(reader) != json.loads(_path(cache_dir, stem, fingerprint, ".json").read_text())["dataset_fingerprint"]:
        raise DatasetError(
            f"{reader.root} changed while its feature cache was being built in {cache_dir}; "
            "build it again once the dataset is no longer being written"
        )
    found = _load_manifest(cache_dir, stem, fingerprint, offsets, encoder)
    if found is None:  # another process replaced it between our rename and this read
        raise DatasetError(f"feature cache {stem} in {cache_dir} vanished right after it was built")
    return found


def share_feature_caches(src: DatasetReader, dst: DatasetReader) -> list[Path]:
    """Give dataset ``dst`` every feature cache of ``src`` (in their default cache directories) that is current and
    whose camera frames ``dst`` holds too: the same episode table entries for that stream and the same video files
    (hard links of them, or copies of the same size and modification time: the frame cache's own test of a file).
    A copy of a dataset with new actions (world_model/relabel.py) then trains on the maps already computed instead of
    encoding every frame again. Each data file is hard-linked under ``dst``'s fingerprint and its manifest written
    last, as a build does; the manifest names ``shared_from``. Nothing is copied: where no hard link can be made
    (another file system), ``dst`` builds its own cache when first used. Returns the data files given."""
    src_dir, dst_dir = default_cache_dir(src.root), default_cache_dir(dst.root)
    src_fp, dst_fp = dataset_fingerprint(src), dataset_fingerprint(dst)
    offsets = [0, *np.cumsum([src.length(e) for e in range(src.num_episodes)]).tolist()]
    shared = []
    for manifest in sorted(src_dir.glob("*.json")) if src_dir.is_dir() else []:
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        key, identity = meta.get("key"), meta.get("identity")
        if identity is None or key not in src.video_keys or not _same_stream(src, dst, key):
            continue  # a frame cache (no trunk), or frames dst does not share
        encoder = SimpleNamespace(name=meta.get("encoder"), identity=identity, frame_shape=tuple(meta.get("shape", [0])[1:]))
        stem = f"{key}.{encoder.name}"
        found = _load_manifest(src_dir, stem, _fingerprint(src_fp, identity), offsets, encoder)
        fingerprint = _fingerprint(dst_fp, identity)
        if found is None or _load_manifest(dst_dir, stem, fingerprint, offsets, encoder) is not None:
            continue  # stale in src (made from an earlier version of it), or dst has it already
        target = _path(dst_dir, stem, fingerprint, ".bin")
        dst_dir.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(found.path, target)
        except OSError:
            continue  # another file system: a copy would cost the cache's size, so dst builds its own when first used
        given = {**meta, "dataset": str(dst.root.resolve()), "dataset_fingerprint": dst_fp, "shared_from": str(src.root.resolve())}
        _write_atomic(_path(dst_dir, stem, fingerprint, ".json"), json.dumps(given))
        shared.append(target)
    return shared


def _same_stream(a: DatasetReader, b: DatasetReader, key: str) -> bool:
    """Whether datasets ``a`` and ``b`` hold the same frames of camera stream ``key``: the same episode lengths and
    places in the video files, and the same video files (one file, or the same size and modification time)."""
    if key not in b.video_keys or a.num_episodes != b.num_episodes:
        return False
    columns = ["length", *(c for c in a.episodes.columns if c.startswith(f"videos/{key}/"))]
    if any(c not in b.episodes.columns for c in columns) or not a.episodes[columns].equals(b.episodes[columns]):
        return False
    for e in range(a.num_episodes):
        fa, fb = a.video_file(e, key), b.video_file(e, key)
        if fa.relative_to(a.root) != fb.relative_to(b.root):
            return False
        sa, sb = fa.stat(), fb.stat()
        if not ((sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino) or (sa.st_size, sa.st_mtime_ns) == (sb.st_size, sb.st_mtime_ns)):
            return False
    return True


# ---- files ---------------------------------------------------------------------------------------
def _path(cache_dir: Path, stem: str, fingerprint: str, suffix: str) -> Path:
    return cache_dir / f"{stem}-{fingerprint}{suffix}"


def _load_manifest(cache_dir: Path, stem: str, fingerprint: str, offsets: list[int], encoder: FeatureEncoder) -> CachedFrames | None:
    """The cache if complete and made from this dataset by this very encoder; None otherwise."""
    bin_path = _path(cache_dir, stem, fingerprint, ".bin")
    try:
        meta = json.loads(_path(cache_dir, stem, fingerprint, ".json").read_text())
        size = bin_path.stat().st_size
    except (OSError, json.JSONDecodeError):
        return None
    shape = tuple(meta.get("shape", ()))
    if (
        meta.get("format_version") != FORMAT_VERSION
        or meta.get("offsets") != offsets
        or meta.get("identity") != json.loads(json.dumps(encoder.identity))  # the hash already says so; a collision cannot
        or shape != (offsets[-1], *encoder.frame_shape)
        or size != int(np.prod(shape)) * DTYPE.itemsize
    ):
        return None
    return CachedFrames(bin_path, DTYPE.name, shape, offsets)


def _build(
    reader: DatasetReader,
    key: str,
    encoder: FeatureEncoder,
    cache_dir: Path,
    stem: str,
    fingerprint: str,
    offsets: list[int],
    progress: bool,
) -> None:
    from tqdm import tqdm

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"cannot create the feature cache directory (cache_dir) {cache_dir}: {err}") from err
    total, frame_shape = offsets[-1], tuple(encoder.frame_shape)
    need = total * int(np.prod(frame_shape)) * DTYPE.itemsize
    free = shutil.disk_usage(cache_dir).free
    if need > free:
        raise DatasetError(f"the feature cache needs {need / 1e9:.1f} GB in {cache_dir} (cache_dir) but only {free / 1e9:.1f} GB are free")
    _remove_orphans(cache_dir, stem)
    source = dataset_fingerprint(reader)  # recorded, to notice a dataset written to while we read it
    tmp = _path(cache_dir, stem, fingerprint, f".bin.tmp-{os.getpid()}")
    try:
        # np.memmap cannot map an empty file; a dataset of zero frames gets an empty file and no mapping.
        array = np.memmap(tmp, dtype=DTYPE, mode="w+", shape=(total, *frame_shape)) if total else None
        with tqdm(total=total, desc=f"feature cache {encoder.name}", unit="frame", disable=not progress) as bar:
            for e in range(reader.num_episodes):
                frames = frame_array(reader, e, key)
                if len(frames) != offsets[e + 1] - offsets[e]:
                    raise DatasetError(
                        f"{reader.root}: episode {e} {key!r} decodes to {len(frames)} frames, its length is {offsets[e + 1] - offsets[e]}"
                    )
                for start in range(0, len(frames), FRAMES_PER_CALL):
                    maps = np.asarray(encoder(frames[start : start + FRAMES_PER_CALL]))
                    if maps.shape[1:] != frame_shape:
                        raise DatasetError(
                            f"feature cache: encoder {encoder.name} gave maps of shape {list(maps.shape[1:])}, it declares {list(frame_shape)}"
                        )
                    array[offsets[e] + start : offsets[e] + start + len(maps)] = maps
                    bar.update(len(maps))
        if array is not None:
            array.flush()
            del array
        else:
            tmp.touch()
        os.replace(tmp, _path(cache_dir, stem, fingerprint, ".bin"))
        manifest = {
            "format_version": FORMAT_VERSION,
            "key": key,
            "encoder": encoder.name,
            "identity": encoder.identity,
            "dtype": DTYPE.name,
            "shape": [total, *frame_shape],
            "offsets": offsets,
            "dataset": str(reader.root.resolve()),
            "dataset_fingerprint": source,
        }
        _write_atomic(_path(cache_dir, stem, fingerprint, ".json"), json.dumps(manifest))
        _remove_stale(cache_dir, stem, fingerprint)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    part.write_text(text)
    os.replace(part, path)


def _remove_orphans(cache_dir: Path, stem: str) -> None:
    """Temporary data files of builds whose process is gone (killed by a signal, ``finally`` never ran): never
    read (no manifest names them), but as large as the cache itself; a build still running elsewhere keeps its own."""
    for path in cache_dir.glob(f"{stem}-*.bin.tmp-*"):
        pid = path.name.rsplit("-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: an existence check, nothing is sent
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _remove_stale(cache_dir: Path, stem: str, fingerprint: str) -> None:
    """Maps of this stream by this trunk setting made from an earlier dataset or other weights: unreachable, so freed.
    Another trunk setting (another stride or image size: another ``name``) keeps its own files."""
    for path in cache_dir.glob(f"{stem}-*"):
        found = re.fullmatch(rf"([0-9a-f]{{{FINGERPRINT_CHARS}}})\.(bin|json)", path.name[len(stem) + 1 :])
        if found and found.group(1) != fingerprint:
            path.unlink(missing_ok=True)
