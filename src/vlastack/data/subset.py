"""Part of a dataset: the episodes of some tasks, the first N of each, and normalisation statistics over those only.

One rule for every few-demonstration experiment (issue 14 item 3): ``vlastack train`` with
``train.episodes_per_task=N`` trains on exactly the episodes that ``vlastack wm pseudo-label
--labelled-per-task N`` treats as labelled. Statistics are recomputed over the chosen episodes, so a
policy trained on 5 demonstrations per task never sees the action range of the other 45.

``train.tasks`` keeps the episodes of the named tasks only (each episode's simulator task, e.g.
``rs-lift-panda``): one dataset of several arms then serves a policy of all of them, one per arm and a
held-out arm's few-demonstration fine-tune (issue 17 item 3, benchmarks/cross_embodiment.sh), with one
frame and feature cache.
"""

from __future__ import annotations

import numpy as np

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import merge_image_stats, vector_stats
from vlastack.errors import ConfigError, DatasetError


def episode_task(reader: DatasetReader, e: int) -> str:
    """The task episode ``e`` belongs to: its simulator task (e.g. ``reach-v3``), else its instruction."""
    meta = reader.episode_meta(e)
    return str(meta.get("vlastack/env_task") or meta["tasks"][0])


def episodes_by_task(reader: DatasetReader) -> dict[str, list[int]]:
    """Task (:func:`episode_task`) -> its episodes in index order, tasks in order of their first episode."""
    by_task: dict[str, list[int]] = {}
    for e in range(reader.num_episodes):
        by_task.setdefault(episode_task(reader, e), []).append(e)
    return by_task


def task_episodes(reader: DatasetReader, tasks: tuple[str, ...] | list[str], field: str = "tasks") -> list[int]:
    """Every episode of ``tasks`` (names as :func:`episode_task` gives them), sorted; ``field`` names the
    setting in errors (no task named, or a task with no episode in the dataset: the error lists its tasks)."""
    if isinstance(tasks, str) or not tasks:
        raise ConfigError(f"{field} must name at least one task, got {tasks!r}")
    by_task = episodes_by_task(reader)
    missing = [t for t in tasks if t not in by_task]
    if missing:
        raise DatasetError(f"{field}: {reader.root} has no episodes of {missing}; its tasks: {sorted(by_task)}")
    return sorted(e for t in dict.fromkeys(tasks) for e in by_task[t])


def first_per_task(
    reader: DatasetReader,
    n: int,
    field: str = "episodes_per_task",
    tasks: tuple[str, ...] | list[str] | None = None,
    tasks_field: str = "tasks",
) -> list[int]:
    """The first ``n`` episodes of each task (of ``tasks`` only, when given: see :func:`task_episodes`), in
    episode-index order, sorted; ``field`` and ``tasks_field`` name the settings in errors (``n`` < 1, a task
    with fewer than ``n`` episodes; a named task with none)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{field} must be an integer >= 1, got {n!r}")
    by_task = episodes_by_task(reader)
    if tasks is not None:
        task_episodes(reader, tasks, tasks_field)  # every named task is there (or the error says which is not)
        by_task = {t: by_task[t] for t in dict.fromkeys(tasks)}
    short = {task: len(eps) for task, eps in by_task.items() if len(eps) < n}
    if short or not by_task:
        raise DatasetError(f"{field}={n}: these tasks of {reader.root} have fewer episodes: {short or 'no episodes at all'}")
    return sorted(e for eps in by_task.values() for e in eps[:n])


def _is_merged(key: str, feature: dict) -> bool:
    """Features whose dataset statistics the writer merges from per-episode ones (images, per-frame maps)."""
    return key.startswith(keys.IMAGES_PREFIX) or (len(feature.get("shape", ())) >= 2 and not layout.is_video(feature))


def subset_stats(reader: DatasetReader, episodes: list[int]) -> dict[str, dict[str, np.ndarray]]:
    """Statistics of ``episodes`` only, computed as the writer computes meta/stats.json over all of them:
    vector columns exactly over every frame, images and maps merged from their per-episode statistics."""
    if not episodes:
        raise DatasetError("statistics over no episodes: the episode list is empty")
    merged = {k for k, f in reader.features.items() if _is_merged(k, f)}
    vectors: dict[str, list[np.ndarray]] = {}
    for e in episodes:
        for key, values in reader.read_columns(e).items():
            if key not in merged:
                vectors.setdefault(key, []).append(values)
    stats = {k: vector_stats(np.concatenate(v)) for k, v in vectors.items()}
    for key in merged:
        per_ep = [{s: np.asarray(reader.episode_meta(e)[f"stats/{key}/{s}"]) for s in layout.STAT_NAMES} for e in episodes]
        stats[key] = merge_image_stats(per_ep)
    return stats
