"""Add subtask and reason annotations to an existing LeRobot v3 dataset, crash-safely.

What is added, in LeRobot's own pattern for language (the one ``task_index`` + meta/tasks.parquet use):

    meta/subtasks.parquet     subtask text (the index) -> subtask_index
    meta/reasons.parquet      reason text (the index) -> reason_index
    data/…/file-YYY.parquet   two more int64 per-frame columns, ``subtask_index`` and ``reason_index``
    meta/info.json            the two features described; meta/stats.json their statistics

so LeRobot's ``LeRobotDataset`` reads them as ordinary features and a reader maps them to text as it
maps ``task_index`` to the task. Annotations are computed from ``observation.environment_state``
(labels.py), so any dataset recorded by ``vlastack collect`` can be annotated after the fact, again
and again: a second run replaces the first.

Crash safety: every file is replaced atomically (write to a temporary name, fsync, rename; durable.py),
in this order: the two tables, each data file, stats.json, and info.json last (the commit point). A
crash before info.json leaves data files with two extra columns that info.json does not list yet:
vlastack's reader ignores them, every value that was there is unchanged, and running the command
again completes the annotation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vlastack import keys
from vlastack.episodes import durable, layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.errors import DatasetError
from vlastack.reasoning.labels import annotate_episode, supported_tasks

SUBTASK_INDEX = "subtask_index"
REASON_INDEX = "reason_index"
SUBTASKS_PATH = "meta/subtasks.parquet"
REASONS_PATH = "meta/reasons.parquet"
#: Feature description of both index columns in info.json.
INDEX_FEATURE = {"dtype": "int64", "shape": [1], "names": None}


@dataclass
class AnnotateSummary:
    """What an annotation run wrote."""

    episodes: int
    frames: int
    subtasks: list[str]
    """Distinct subtasks, by index."""
    reasons: int
    """Distinct reasons."""
    frames_per_subtask: dict[str, int]


def annotate_dataset(root: str | Path) -> AnnotateSummary:
    """Compute and store per-frame subtasks and reasons for every episode of the dataset at ``root``."""
    root = Path(root)
    reader = DatasetReader(root)
    if keys.ENV_STATE not in reader.features:
        raise DatasetError(f"{root} has no {keys.ENV_STATE!r} feature: annotations are computed from the recorded privileged state")
    tasks = [str(reader.episode_meta(e).get("vlastack/env_task") or "") for e in range(reader.num_episodes)]
    unknown = sorted({t for t in tasks if t not in supported_tasks()})
    if unknown:
        raise DatasetError(
            f"{root}: episodes of {unknown} (vlastack/env_task) have no subtask rules; tasks with rules: {', '.join(supported_tasks())}"
        )
    subtask_ids: dict[str, int] = {}
    reason_ids: dict[str, int] = {}
    per_episode: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for e, task in enumerate(tasks):
        subtasks, reasons = annotate_episode(task, reader.read_columns(e)[keys.ENV_STATE])
        per_episode[e] = (
            np.array([subtask_ids.setdefault(s, len(subtask_ids)) for s in subtasks], dtype=np.int64),
            np.array([reason_ids.setdefault(r, len(reason_ids)) for r in reasons], dtype=np.int64),
        )

    _write_table(root / SUBTASKS_PATH, subtask_ids, SUBTASK_INDEX)
    _write_table(root / REASONS_PATH, reason_ids, REASON_INDEX)
    features = {**reader.features, SUBTASK_INDEX: INDEX_FEATURE, REASON_INDEX: INDEX_FEATURE}
    for path in sorted({_data_path(reader, e) for e in per_episode}):
        _rewrite_data_file(path, per_episode, features)
    all_sub = np.concatenate([v[0] for v in per_episode.values()]) if per_episode else np.zeros(0, np.int64)
    all_rea = np.concatenate([v[1] for v in per_episode.values()]) if per_episode else np.zeros(0, np.int64)
    stats = json.loads((root / layout.STATS_PATH).read_text())
    if len(all_sub):
        stats.update(layout.to_jsonable({SUBTASK_INDEX: vector_stats(all_sub), REASON_INDEX: vector_stats(all_rea)}))
    layout.write_json_atomic(root / layout.STATS_PATH, stats)
    info = dict(reader.info, features=features)
    layout.write_json_atomic(root / layout.INFO_PATH, info)  # the commit point
    names = list(subtask_ids)
    counts = np.bincount(all_sub, minlength=len(names)) if len(all_sub) else np.zeros(len(names), int)
    return AnnotateSummary(
        episodes=reader.num_episodes,
        frames=int(len(all_sub)),
        subtasks=names,
        reasons=len(reason_ids),
        frames_per_subtask={n: int(c) for n, c in zip(names, counts)},
    )


def _data_path(reader: DatasetReader, e: int) -> Path:
    meta = reader.episode_meta(e)
    return reader.root / reader.info["data_path"].format(chunk_index=int(meta["data/chunk_index"]), file_index=int(meta["data/file_index"]))


def _rewrite_data_file(path: Path, per_episode: dict[int, tuple[np.ndarray, np.ndarray]], features: dict) -> None:
    """Replace ``path`` by the same table plus (or with new) annotation columns, row by row matched on
    episode and frame index (LeRobot's files may hold several episodes)."""
    table = pq.read_table(path)
    table = table.drop_columns([c for c in (SUBTASK_INDEX, REASON_INDEX) if c in table.column_names])
    episodes = table.column(keys.EPISODE_INDEX).to_numpy()
    frames = table.column(keys.FRAME_INDEX).to_numpy()
    sub = np.empty(len(table), dtype=np.int64)
    rea = np.empty(len(table), dtype=np.int64)
    for i, (e, t) in enumerate(zip(episodes, frames)):
        if int(e) not in per_episode:
            raise DatasetError(f"dataset file {path} holds rows of episode {e}, which meta/episodes does not list")
        sub[i], rea[i] = per_episode[int(e)][0][t], per_episode[int(e)][1][t]
    table = table.append_column(SUBTASK_INDEX, pa.array(sub)).append_column(REASON_INDEX, pa.array(rea))
    columns = {c: features[c] for c in table.column_names if c in features}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **layout.parquet_metadata(columns)})
    durable.write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def _write_table(path: Path, ids: dict[str, int], column: str) -> None:
    """A text -> index table in the layout of meta/tasks.parquet (the text is the pandas index)."""
    frame = pd.DataFrame({column: pd.Series(list(ids.values()), dtype="int64")}, index=pd.Index(list(ids), dtype=object, name=None))
    table = pa.Table.from_pandas(frame)
    durable.write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def read_table(root: str | Path, which: str = SUBTASK_INDEX) -> list[str]:
    """Subtask (or, with ``which=REASON_INDEX``, reason) texts ordered by index."""
    path = Path(root) / (SUBTASKS_PATH if which == SUBTASK_INDEX else REASONS_PATH)
    if not path.exists():
        raise DatasetError(f"{path} is missing: annotate the dataset first (vlastack annotate --dataset {root})")
    frame = pq.read_table(path).to_pandas()
    return [str(t) for t in frame.sort_values(which).index]


def episode_annotations(root: str | Path, e: int) -> tuple[list[str], list[str]]:
    """Per-frame subtask and reason texts of episode ``e`` of an annotated dataset."""
    reader = DatasetReader(root)
    if SUBTASK_INDEX not in reader.features:
        raise DatasetError(f"{root} has no {SUBTASK_INDEX!r} feature: annotate it first (vlastack annotate --dataset {root})")
    cols = reader.read_columns(e)
    subtasks, reasons = read_table(root, SUBTASK_INDEX), read_table(root, REASON_INDEX)
    return [subtasks[i] for i in cols[SUBTASK_INDEX]], [reasons[i] for i in cols[REASON_INDEX]]
