"""The LeRobotDataset v3.0 on-disk layout: paths, feature descriptions, Arrow schemas.

    meta/info.json                                   format version, fps, features, path patterns
    meta/stats.json                                  statistics per feature over the whole dataset
    meta/tasks.parquet                               task string (index) -> task_index
    meta/episodes/chunk-XXX/file-YYY.parquet         one row per episode: length, where its rows
                                                     and video frames are, per-episode stats
    data/chunk-XXX/file-YYY.parquet                  one row per frame: non-video features
    videos/<video key>/chunk-XXX/file-YYY.mp4        camera streams

LeRobot packs many episodes into one file; the format lets each episode say which file holds it,
and vlastack writes one file per episode (``file_index = episode % chunks_size``). That keeps every
write a whole file renamed into place (see durable.py), which is what makes recording crash-safe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vlastack import keys

# Re-exported: the atomic writes every metadata file (and the evaluation episode log) goes through.
from vlastack.episodes.durable import write_json_atomic, write_text_atomic  # noqa: F401

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"

#: Statistics stored per feature, LeRobot's set: q01 ... q99 are the 1st ... 99th percentiles.
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_NAMES = ("min", "max", "mean", "std", "count", *QUANTILES)

#: Bookkeeping features every frame carries, as LeRobot describes them in info.json.
DEFAULT_FEATURES = {
    keys.TIMESTAMP: {"dtype": "float32", "shape": [1], "names": None},
    keys.FRAME_INDEX: {"dtype": "int64", "shape": [1], "names": None},
    keys.EPISODE_INDEX: {"dtype": "int64", "shape": [1], "names": None},
    keys.INDEX: {"dtype": "int64", "shape": [1], "names": None},
    keys.TASK_INDEX: {"dtype": "int64", "shape": [1], "names": None},
}


def chunk_file(episode_index: int) -> dict[str, int]:
    """Chunk and file index of the files holding one episode."""
    return {"chunk_index": episode_index // CHUNKS_SIZE, "file_index": episode_index % CHUNKS_SIZE}


def data_path(root: Path, episode_index: int) -> Path:
    return root / DATA_PATH.format(**chunk_file(episode_index))


def video_path(root: Path, video_key: str, episode_index: int) -> Path:
    return root / VIDEO_PATH.format(video_key=video_key, **chunk_file(episode_index))


def episodes_path(root: Path, episode_index: int) -> Path:
    return root / EPISODES_PATH.format(**chunk_file(episode_index))


def is_video(feature: dict[str, Any]) -> bool:
    return feature["dtype"] == "video"


NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def to_arrow(values: np.ndarray, feature: dict[str, Any]) -> pa.Array:
    """A [N, *shape] numpy array as an Arrow column of the feature's type."""
    shape = list(feature["shape"])
    flat = pa.array(np.ascontiguousarray(values, dtype=NUMPY_DTYPES[feature["dtype"]]).reshape(-1))
    if shape == [1]:
        return flat
    for n in reversed(shape):
        flat = pa.FixedSizeListArray.from_arrays(flat, n)
    return flat


def from_arrow(column: pa.ChunkedArray | pa.Array, feature: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`to_arrow`: an Arrow column as a [N, *shape] numpy array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    shape = list(feature["shape"])
    while pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = arr.flatten()
    out = arr.to_numpy(zero_copy_only=False).astype(NUMPY_DTYPES[feature["dtype"]], copy=False)
    return out.reshape(n) if shape == [1] else out.reshape(n, *shape)


def hf_feature(feature: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face ``datasets`` description of a column, stored in the parquet metadata."""
    shape = list(feature["shape"])
    value = {"dtype": feature["dtype"], "_type": "Value"}
    if shape == [1]:
        return value
    if len(shape) == 1:
        return {"feature": value, "length": shape[0], "_type": "List"}
    return {"shape": shape, "dtype": feature["dtype"], "_type": f"Array{len(shape)}D"}


def parquet_metadata(features: dict[str, dict[str, Any]]) -> dict[bytes, bytes]:
    hf = {name: hf_feature(f) for name, f in features.items() if not is_video(f)}
    return {b"huggingface": json.dumps({"info": {"features": hf}}).encode()}


def to_jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    return {k: {s: np.asarray(v).tolist() for s, v in st.items()} for k, st in stats.items()}
