"""Write episodes into a LeRobotDataset v3.0 directory, crash-safely.

Every file is written durably and atomically (durable.py: temporary name, fsync, rename, fsync of
the directory), and an episode's files are written in this order:

    0. (new dataset only) meta/tasks.parquet, meta/stats.json, meta/info.json with no episodes,
       so that the directory is a readable, empty dataset from its first moment
    1. data/…/file-YYY.parquet and videos/<cam>/…/file-YYY.mp4
    2. meta/tasks.parquet and meta/stats.json, already counting this episode
    3. meta/episodes/…/file-YYY.parquet      <- the commit point: now the episode exists
    4. meta/info.json, refreshed totals

So everything a committed episode needs is on disk before its commit point. A crash before 3
leaves files no metadata points to (and tasks/stats that count one episode too many); opening the
writer again deletes those files and rewrites tasks and stats from the committed episodes. A crash
between 3 and 4 leaves info.json's totals one episode behind, which readers accept (they count
episodes from meta/episodes) and reopening repairs. An episode is wholly in the dataset or not at
all, the dataset is readable after a kill at any moment, and recording resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vlastack import keys
from vlastack.episodes import durable, layout
from vlastack.episodes.reader import read_episode_table
from vlastack.episodes.stats import image_stats, merge_image_stats, vector_stats
from vlastack.episodes.video import VideoSettings, encode_video
from vlastack.errors import DatasetError
from vlastack.types import Episode


def describe_features(episode: Episode, video: VideoSettings, names: dict[str, list[str]] | None = None) -> dict:
    """info.json feature descriptions for the features of ``episode`` (images become videos)."""
    names = names or {}
    out: dict[str, Any] = {}
    for key, arr in episode.frames.items():
        if key.startswith(keys.IMAGES_PREFIX):
            h, w, c = arr.shape[1:]
            out[key] = {
                "dtype": "video",
                "shape": [h, w, c],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.height": h,
                    "video.width": w,
                    "video.codec": video.codec_name,
                    "video.pix_fmt": video.pix_fmt,
                    "video.is_depth_map": False,
                    "video.fps": episode.fps,
                    "video.channels": c,
                    "has_audio": False,
                },
            }
        else:
            dtype = {np.dtype(np.bool_): "bool", np.dtype(np.int64): "int64"}.get(arr.dtype, "float32")
            shape = list(arr.shape[1:]) or [1]
            out[key] = {"dtype": dtype, "shape": shape, "names": names.get(key)}
    out.update(layout.DEFAULT_FEATURES)
    return out


class DatasetWriter:
    """Appends episodes to a dataset directory, creating it or resuming an interrupted one."""

    def __init__(
        self,
        root: str | Path,
        robot_type: str = "unknown",
        video: VideoSettings = VideoSettings(),
        feature_names: dict[str, list[str]] | None = None,
        extra_info: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.robot_type = robot_type
        self.video = video
        self.feature_names = feature_names or {}
        # More top-level info.json keys (e.g. ``action_space``), written with every info.json; given again on resume.
        self.extra_info = dict(extra_info or {})
        clash = sorted(set(self.extra_info) & _INFO_KEYS)
        if clash:
            raise DatasetError(f"extra_info may not set info.json's own keys {clash}")
        self.features: dict[str, Any] | None = None
        self.fps: int | None = None
        self._episodes: list[dict[str, Any]] = []  # committed episode rows, in order
        self._tasks: dict[str, int] = {}
        self._vectors: dict[str, list[np.ndarray]] = {}  # numeric columns per episode, for stats
        self._recover()

    # ---- opening and recovery -------------------------------------------------------------
    def _recover(self) -> None:
        info_path = self.root / layout.INFO_PATH
        if not info_path.exists():
            return
        from vlastack.episodes.reader import DatasetReader

        reader = DatasetReader(self.root, check_files=False, trust_episodes_dir=True)
        self.features, self.fps = reader.features, reader.fps
        self.robot_type = reader.info.get("robot_type", self.robot_type)
        table = read_episode_table(self.root)
        self._episodes = table.to_dict("records")
        for row in self._episodes:
            for task in row["tasks"]:
                self._tasks.setdefault(str(task), len(self._tasks))
        self._remove_orphans(len(self._episodes))
        if not self._episodes:  # stopped before its first commit: start afresh, whatever the features
            self.features, self.fps = None, None
            return
        for e in range(len(self._episodes)):
            cols = reader.read_columns(e)
            for k, v in cols.items():
                if not _is_map(v):
                    self._vectors.setdefault(k, []).append(v)
        # Tasks and stats may count an episode whose commit was interrupted; info may lag: rewrite all.
        self._write_tasks(self._tasks)
        self._write_stats(self._vectors, self._episodes)
        self._write_info()

    def _remove_orphans(self, n_committed: int) -> None:
        """Delete files of episodes that were being written when a previous run stopped."""
        for path in (self.root / "meta").glob(durable.TMP_PREFIX + "*"):
            path.unlink()
        for sub in ("data", "videos", layout.EPISODES_DIR):
            base = self.root / sub
            if not base.exists():
                continue
            for path in base.rglob("*"):
                if not path.is_file():
                    continue
                if path.name.startswith(durable.TMP_PREFIX):
                    path.unlink()
                    continue
                try:
                    chunk = int(path.parent.name.split("-")[1])
                    file = int(path.stem.split("-")[1])
                except (IndexError, ValueError):
                    continue
                if chunk * layout.CHUNKS_SIZE + file >= n_committed:
                    path.unlink()

    # ---- writing -------------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    def episode_rows(self) -> list[dict[str, Any]]:
        """Committed episodes' metadata rows (copies), e.g. to see which seeds are already recorded."""
        return [dict(r) for r in self._episodes]

    def add_episode(self, episode: Episode, meta: dict[str, Any] | None = None) -> int:
        """Commit one episode; returns its episode index. ``meta``: more columns of its meta/episodes row,
        each named ``vlastack/<name>`` (e.g. ``vlastack/embodiment``), scalars."""
        bad = [k for k in meta or {} if not k.startswith("vlastack/")]
        if bad:
            raise DatasetError(f"episode meta columns must be named vlastack/<name>, got {bad}")
        feats = describe_features(episode, self.video, self.feature_names)
        if self.features is None:
            self.features, self.fps = feats, episode.fps
            # Step 0: an empty but complete dataset, so that info.json (what makes the directory a
            # dataset to readers and to resume) never exists without the files a reader opens next.
            self._write_tasks({})
            self._write_stats({}, [])
            self._write_info()
        self._check_matches(episode, feats)
        index = len(self._episodes)
        n = len(episode)
        start = sum(r["length"] for r in self._episodes)
        task_index = self._tasks.get(episode.task, len(self._tasks))

        # A one-value feature as [N], whether the episode holds it as [N] or [N, 1]: the shape the reader
        # gives back, so that statistics over fresh and over resumed episodes concatenate.
        columns = {
            k: (v.reshape(n) if feats[k]["shape"] == [1] else v) for k, v in episode.frames.items() if not k.startswith(keys.IMAGES_PREFIX)
        }
        columns[keys.TIMESTAMP] = (np.arange(n) / episode.fps).astype(np.float32)
        columns[keys.FRAME_INDEX] = np.arange(n, dtype=np.int64)
        columns[keys.EPISODE_INDEX] = np.full(n, index, dtype=np.int64)
        columns[keys.INDEX] = np.arange(start, start + n, dtype=np.int64)
        columns[keys.TASK_INDEX] = np.full(n, task_index, dtype=np.int64)
        self._write_data(index, columns)

        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": [episode.task],
            "length": n,
            "data/chunk_index": layout.chunk_file(index)["chunk_index"],
            "data/file_index": layout.chunk_file(index)["file_index"],
            "dataset_from_index": start,
            "dataset_to_index": start + n,
        }
        for key, frames in episode.frames.items():
            if key.startswith(keys.IMAGES_PREFIX):
                durable.write_atomic(
                    layout.video_path(self.root, key, index), lambda tmp, frames=frames: encode_video(frames, tmp, episode.fps, self.video)
                )
                cf = layout.chunk_file(index)
                row[f"videos/{key}/chunk_index"] = cf["chunk_index"]
                row[f"videos/{key}/file_index"] = cf["file_index"]
                row[f"videos/{key}/from_timestamp"] = 0.0
                row[f"videos/{key}/to_timestamp"] = n / episode.fps
                for s, v in image_stats(frames).items():
                    row[f"stats/{key}/{s}"] = v
        for key, arr in columns.items():
            for s, v in vector_stats(arr).items():
                row[f"stats/{key}/{s}"] = v
        cf = layout.chunk_file(index)
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = cf["chunk_index"], cf["file_index"]
        row["vlastack/seed"] = -1 if episode.seed is None else int(episode.seed)
        row["vlastack/env_task"] = episode.env_task or ""
        row["vlastack/success"] = bool(episode.success)
        row.update(meta or {})
        # Step 2: tasks and stats as they will be once this episode is in, so that no moment after
        # the commit point lacks them (this state is only kept in memory once the commit is done).
        tasks = {**self._tasks, episode.task: task_index} if episode.task not in self._tasks else self._tasks
        vectors = {k: [*self._vectors.get(k, []), v] for k, v in columns.items() if not _is_map(v)}
        episodes = [*self._episodes, row]
        self._write_tasks(tasks)
        self._write_stats(vectors, episodes)
        self._write_parquet(layout.episodes_path(self.root, index), _episode_table(row))  # step 3: commit point

        self._episodes, self._tasks, self._vectors = episodes, tasks, vectors
        self._write_info()  # step 4: totals; a crash before this leaves them one episode behind
        return index

    def _check_matches(self, episode: Episode, feats: dict[str, Any]) -> None:
        assert self.features is not None
        if episode.fps != self.fps:
            raise DatasetError(f"episode fps {episode.fps} differs from the dataset's {self.fps} ({self.root})")
        for key in set(feats) | set(self.features):
            a, b = feats.get(key), self.features.get(key)
            if a is None or b is None or a["shape"] != b["shape"] or a["dtype"] != b["dtype"]:
                raise DatasetError(
                    f"episode feature {key!r} does not match the dataset at {self.root}: "
                    f"dataset has {b and (b['dtype'], b['shape'])}, episode has {a and (a['dtype'], a['shape'])}"
                )

    def _write_data(self, index: int, columns: dict[str, np.ndarray]) -> None:
        assert self.features is not None
        arrays = [layout.to_arrow(arr, self.features[key]) for key, arr in columns.items()]
        fields = [pa.field(key, a.type) for key, a in zip(columns, arrays)]
        schema = pa.schema(fields, metadata=layout.parquet_metadata({k: self.features[k] for k in columns}))
        self._write_parquet(layout.data_path(self.root, index), pa.Table.from_arrays(arrays, schema=schema))

    @staticmethod
    def _write_parquet(path: Path, table: pa.Table) -> None:
        durable.write_atomic(path, lambda tmp: pq.write_table(table, tmp))

    def _write_tasks(self, tasks: dict[str, int]) -> None:
        """meta/tasks.parquet: task string (the index) -> task_index."""
        frame = pd.DataFrame(
            {"task_index": pd.Series(list(tasks.values()), dtype="int64")}, index=pd.Index(list(tasks), dtype=object, name=None)
        )
        self._write_parquet(self.root / layout.TASKS_PATH, pa.Table.from_pandas(frame))

    def _write_stats(self, vectors: dict[str, list[np.ndarray]], episodes: list[dict[str, Any]]) -> None:
        """meta/stats.json over ``episodes``: numeric vector columns exactly over every frame (``vectors``);
        images and per-frame maps (depth) merged from their per-episode statistics, like LeRobot's images.

        Maps are never accumulated: exact quantiles over every depth pixel of every episode, recomputed at
        each commit, grew with the square of the dataset (a 128 px depth stream slowed MT10 collection
        from 2 s to 30+ s per episode by episode 100, and held gigabytes)."""
        assert self.features is not None
        stats = {k: vector_stats(np.concatenate(v)) for k, v in vectors.items() if v}
        for key, feat in self.features.items():
            if (key.startswith(keys.IMAGES_PREFIX) or (len(feat.get("shape", ())) >= 2 and not layout.is_video(feat))) and episodes:
                per_ep = [{s: np.asarray(r[f"stats/{key}/{s}"]) for s in layout.STAT_NAMES} for r in episodes]
                stats[key] = merge_image_stats(per_ep)
        layout.write_json_atomic(self.root / layout.STATS_PATH, layout.to_jsonable(stats))

    def _write_info(self) -> None:
        """Rewrite info.json from the committed episodes (possibly none yet)."""
        assert self.features is not None
        total_frames = sum(r["length"] for r in self._episodes)
        info = {
            "codebase_version": layout.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self._episodes),
            "total_frames": total_frames,
            "total_tasks": len(self._tasks),
            "chunks_size": layout.CHUNKS_SIZE,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self._episodes)}"},
            "data_path": layout.DATA_PATH,
            "video_path": layout.VIDEO_PATH if any(layout.is_video(f) for f in self.features.values()) else None,
            "features": self.features,
            **self.extra_info,
        }
        layout.write_json_atomic(self.root / layout.INFO_PATH, info)


#: The keys info.json always has (``DatasetWriter(extra_info=...)`` adds others).
_INFO_KEYS = frozenset(
    "codebase_version robot_type total_episodes total_frames total_tasks chunks_size data_files_size_in_mb "
    "video_files_size_in_mb fps splits data_path video_path features".split()
)


def _is_map(column: np.ndarray) -> bool:
    """A column of per-frame maps ([N, H, W], e.g. depth), whose statistics are merged per episode."""
    return np.asarray(column).ndim >= 3


def _episode_table(row: dict[str, Any]) -> pa.Table:
    """One-row Arrow table of an episode's metadata, nested lists for array-valued stats."""
    cols = {}
    for k, v in row.items():
        if isinstance(v, np.ndarray):
            cols[k] = pa.array([v.tolist()])
        elif isinstance(v, list):
            cols[k] = pa.array([v], type=pa.list_(pa.string()))
        else:
            cols[k] = pa.array([v])
    return pa.table(cols)
