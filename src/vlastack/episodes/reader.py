"""Read a LeRobotDataset v3.0 directory (ours, or one LeRobot wrote).

Every problem with the files is reported as a DatasetError that names the file and what is wrong.
Episodes without an ``action`` feature (video-only data) read fine: ``episode_actions`` then
raises, everything else works.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.video import decode_video
from vlastack.errors import DatasetError
from vlastack.types import Episode


def _read_parquet(path: Path) -> pa.Table:
    if not path.exists():
        raise DatasetError(f"dataset file {path} is missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise DatasetError(f"dataset file {path} is corrupt (not a readable parquet file): {err}") from err


def read_episode_table(root: Path) -> pd.DataFrame:
    """All rows of meta/episodes, ordered by episode index, as a DataFrame."""
    paths = sorted((root / layout.EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not paths:
        return pd.DataFrame(columns=["episode_index", "tasks", "length"])
    frames = []
    for p in paths:
        t = _read_parquet(p)
        # Array-valued stats columns are not needed to locate data; keep them as python lists.
        frames.append(pd.DataFrame({c: t.column(c).to_pylist() for c in t.column_names}))
    table = pd.concat(frames, ignore_index=True).sort_values("episode_index").reset_index(drop=True)
    expected = np.arange(len(table))
    if not np.array_equal(table["episode_index"].to_numpy(), expected):
        raise DatasetError(f"{root / layout.EPISODES_DIR}: episode indices are not 0..{len(table) - 1} without gaps")
    return table


class DatasetReader:
    """A dataset directory: metadata, per-episode columns and decoded camera streams.

    Episodes are counted from meta/episodes, the writer's commit point; ``trust_episodes_dir``
    also accepts fewer of them than info.json claims (the writer uses it when repairing).
    """

    def __init__(self, root: str | Path, check_files: bool = True, trust_episodes_dir: bool = False) -> None:
        self.root = Path(root)
        info_path = self.root / layout.INFO_PATH
        if not self.root.is_dir():
            raise DatasetError(f"dataset directory {self.root} does not exist")
        if not info_path.exists():
            raise DatasetError(f"{info_path} is missing: {self.root} is not a LeRobot v3.0 dataset")
        try:
            self.info: dict[str, Any] = json.loads(info_path.read_text())
        except json.JSONDecodeError as err:
            raise DatasetError(f"{info_path} is corrupt (invalid JSON: {err})") from err
        version = self.info.get("codebase_version")
        if version != layout.CODEBASE_VERSION:
            raise DatasetError(f"{info_path}: codebase_version is {version!r}, this reader reads {layout.CODEBASE_VERSION!r}")
        for field in ("fps", "features", "total_episodes"):
            if field not in self.info:
                raise DatasetError(f"{info_path} has no {field!r} field")
        self.episodes = read_episode_table(self.root)
        # meta/episodes is the commit point (see writer.py): a crash just after it can leave
        # info.json one episode behind, which is harmless; fewer episodes than info.json means lost files.
        if len(self.episodes) < self.info["total_episodes"] and not trust_episodes_dir:
            raise DatasetError(
                f"{info_path} says {self.info['total_episodes']} episodes but {self.root / layout.EPISODES_DIR} "
                f"holds only {len(self.episodes)}: episode metadata files are missing"
            )
        if check_files:
            for e in range(len(self.episodes)):
                for path in self._files_of(e):
                    if not path.exists():
                        raise DatasetError(f"dataset file {path} is missing (episode {e})")

    # ---- metadata ----------------------------------------------------------------------------
    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        return self.info["features"]

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.episodes["length"].sum()) if len(self.episodes) else 0

    @property
    def video_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if layout.is_video(f)]

    @property
    def cameras(self) -> list[str]:
        return [keys.camera_of(k) for k in self.video_keys]

    @cached_property
    def tasks(self) -> list[str]:
        """Task strings ordered by task_index."""
        table = _read_parquet(self.root / layout.TASKS_PATH).to_pandas()
        return [str(t) for t in table.sort_values("task_index").index]

    @cached_property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """meta/stats.json as feature -> statistic -> numpy array."""
        path = self.root / layout.STATS_PATH
        if not path.exists():
            raise DatasetError(f"{path} is missing")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path} is corrupt (invalid JSON: {err})") from err
        return {k: {s: np.asarray(v) for s, v in st.items()} for k, st in raw.items()}

    def episode_meta(self, e: int) -> dict[str, Any]:
        self._check_index(e)
        return self.episodes.iloc[e].to_dict()

    def length(self, e: int) -> int:
        return int(self.episodes["length"].iloc[e])

    # ---- data --------------------------------------------------------------------------------
    def read_columns(self, e: int) -> dict[str, np.ndarray]:
        """All non-video features of episode ``e`` as [N, ...] numpy arrays."""
        meta = self.episode_meta(e)
        path = self.root / self.info["data_path"].format(chunk_index=int(meta["data/chunk_index"]), file_index=int(meta["data/file_index"]))
        table = _read_parquet(path)
        # LeRobot may pack several episodes into one file: keep this episode's rows.
        idx = table.column(keys.EPISODE_INDEX).to_numpy()
        rows = np.nonzero(idx == e)[0]
        if len(rows) != meta["length"]:
            raise DatasetError(f"dataset file {path} holds {len(rows)} rows of episode {e}, metadata says {meta['length']}")
        table = table.take(pa.array(rows))
        out = {}
        for key, feat in self.features.items():
            if layout.is_video(feat):
                continue
            if key not in table.column_names:
                raise DatasetError(f"dataset file {path} has no column {key!r} that info.json lists")
            out[key] = layout.from_arrow(table.column(key), feat)
        return out

    def read_video(self, e: int, key: str) -> np.ndarray:
        """Decoded frames of one camera for episode ``e``: uint8 [N, H, W, 3]."""
        meta = self.episode_meta(e)
        if key not in self.video_keys:
            raise DatasetError(f"{key!r} is not a camera stream of {self.root}; streams: {self.video_keys}")
        path = self.video_file(e, key)
        frames = decode_video(path)
        # Files may hold several episodes; select this one's frames by timestamp.
        start = int(round(float(meta[f"videos/{key}/from_timestamp"]) * self.fps))
        n = int(meta["length"])
        if len(frames) < start + n:
            raise DatasetError(f"video file {path} has {len(frames)} frames, episode {e} needs frames {start}..{start + n - 1}")
        return frames[start : start + n]

    def video_file(self, e: int, key: str) -> Path:
        """The video file that holds episode ``e``'s frames of camera stream ``key``."""
        meta = self.episodes.iloc[e]
        return self.root / self.info["video_path"].format(
            video_key=key,
            chunk_index=int(meta[f"videos/{key}/chunk_index"]),
            file_index=int(meta[f"videos/{key}/file_index"]),
        )

    def episode(self, e: int, video: bool = True) -> Episode:
        """Episode ``e`` as an Episode (bookkeeping columns dropped)."""
        meta = self.episode_meta(e)
        frames = {k: v for k, v in self.read_columns(e).items() if k not in keys.BOOKKEEPING}
        if video:
            for key in self.video_keys:
                frames[key] = self.read_video(e, key)
        seed = meta.get("vlastack/seed")
        return Episode(
            task=str(meta["tasks"][0]),
            frames=frames,
            fps=self.fps,
            success=bool(meta.get("vlastack/success", False)),
            seed=None if seed is None or seed < 0 else int(seed),
            env_task=meta.get("vlastack/env_task") or None,
        )

    def episode_actions(self, episodes: list[int] | None = None) -> list[np.ndarray]:
        """The actions of ``episodes`` (default every episode): a list of float32 [N_i, D] arrays, environment units."""
        if keys.ACTION not in self.features:
            raise DatasetError(f"{self.root} has no {keys.ACTION!r} feature (a video-only dataset)")
        chosen = range(self.num_episodes) if episodes is None else episodes
        return [self.read_columns(e)[keys.ACTION].astype(np.float32) for e in chosen]

    # ---- helpers -----------------------------------------------------------------------------
    def _check_index(self, e: int) -> None:
        if not 0 <= e < self.num_episodes:
            raise DatasetError(f"episode {e} does not exist: {self.root} has episodes 0..{self.num_episodes - 1}")

    def _files_of(self, e: int) -> list[Path]:
        meta = self.episodes.iloc[e]
        files = [
            self.root / self.info["data_path"].format(chunk_index=int(meta["data/chunk_index"]), file_index=int(meta["data/file_index"]))
        ]
        files += [self.video_file(e, k) for k in self.video_keys]
        return files
