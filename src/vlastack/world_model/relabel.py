"""A copy of a dataset with new actions: what ``vlastack wm pseudo-label`` (pseudo_labels.py) and ``vlastack wm
latent-label`` (latent_labels.py) write.

The copy follows action_free.py: videos and metadata hard-linked, the data parquet files rewritten with the new
``action`` column, the action statistics rebuilt (meta/stats.json and the per-episode ones in meta/episodes). New
actions of another shape than the source's (latent actions: one value per latent dimension), or for a source
without actions, must be given for every episode; the ``action`` feature of meta/info.json and of the data files'
Hugging Face metadata then describes them. Everything is written to ``<out>.tmp`` with the caller's report and
renamed into place when complete. The source's feature caches are then given to the copy as hard links, its frames
being the source's (``data.feature_cache.share_feature_caches``), so training on it encodes no frame again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vlastack import keys
from vlastack.data.feature_cache import share_feature_caches
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.errors import DatasetError
from vlastack.world_model.action_free import copy_dataset_files


def _rewrite_data(path: Path, out: Path, actions: dict[int, np.ndarray], old: dict | None, new: dict) -> None:
    """Write data file ``path`` to ``out`` with the action rows of the episodes in ``actions`` replaced (``old``:
    the source's action feature, None when it has none; ``new``: the copy's)."""
    table = pq.read_table(path)
    episode = table.column(keys.EPISODE_INDEX).to_numpy()
    if old == new:  # same layout: other episodes keep their rows, and the column its Arrow type
        values = layout.from_arrow(table.column(keys.ACTION), old).copy()
    else:
        values = np.zeros((len(table), *new["shape"]), np.float32)
    for e in np.unique(episode):
        if int(e) in actions:
            values[episode == e] = actions[int(e)]
        elif old != new:
            raise DatasetError(f"{path}: episode {int(e)} has no new actions, and the copy's action feature differs from the source's")
    column = layout.to_arrow(values, new)
    if keys.ACTION in table.column_names:
        i = table.column_names.index(keys.ACTION)
        if old == new:
            table = table.set_column(i, table.schema.field(i), column.cast(table.schema.field(i).type))
        else:
            table = table.set_column(i, pa.field(keys.ACTION, column.type), column)
    else:
        table = table.append_column(pa.field(keys.ACTION, column.type), column)
    meta = dict(table.schema.metadata or {})
    if old != new and b"huggingface" in meta:  # the Hugging Face description of the columns LeRobot reads
        hf = json.loads(meta[b"huggingface"])
        hf.setdefault("info", {}).setdefault("features", {})[keys.ACTION] = layout.hf_feature(new)
        meta[b"huggingface"] = json.dumps(hf).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), out)


def _rewrite_episode_meta(path: Path, out: Path, actions: dict[int, np.ndarray]) -> None:
    """Write meta/episodes file ``path`` to ``out`` with the per-episode action statistics of the episodes in
    ``actions`` computed over their new actions (columns added where the source has none)."""
    table = pq.read_table(path)
    episodes = table.column(keys.EPISODE_INDEX).to_pylist()
    for s in layout.STAT_NAMES:
        name = f"stats/{keys.ACTION}/{s}"
        present = name in table.column_names
        values = table.column(name).to_pylist() if present else [None] * len(episodes)
        for row, e in enumerate(episodes):
            if e in actions:
                values[row] = np.asarray(vector_stats(actions[e])[s]).tolist()
        if present:
            i = table.column_names.index(name)
            table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
        else:
            table = table.append_column(name, pa.array(values))
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)


def relabelled_copy(
    src: str | Path,
    dst: str | Path,
    actions: dict[int, np.ndarray],
    report_path: str,
    report: dict[str, Any],
    feature: dict | None = None,
    log: Callable[[str], None] = print,
) -> DatasetReader:
    """Write to the new directory ``dst`` the copy of dataset ``src`` in which each episode ``e`` of ``actions`` has
    the actions ``actions[e]`` (float32 [N_e, *shape]) and every other episode its own, with ``report`` as JSON at
    ``dst/<report_path>``; returns the copy's reader. ``feature``: the copy's ``action`` feature (info.json's
    entry), by default the source's; when it differs from the source's, every episode needs new actions."""
    src, dst = Path(src), Path(dst)
    reader = DatasetReader(src)
    if dst.exists():
        raise DatasetError(f"{dst} already exists; choose a new directory for the relabelled copy")
    old = reader.features.get(keys.ACTION)
    new = dict(feature or old or {})
    if not new:
        raise DatasetError(f"{src} has no {keys.ACTION!r} feature: give the new actions' feature")
    missing = sorted(set(range(reader.num_episodes)) - set(actions))
    if new != old and missing:
        raise DatasetError(f"the copy's action feature differs from {src}'s, so every episode needs new actions; missing: {missing[:5]}")
    for e, a in actions.items():
        if a.shape != (reader.length(e), *new["shape"]):
            raise DatasetError(f"new actions of episode {e} have shape {list(a.shape)}, expected {[reader.length(e), *new['shape']]}")
    kept = dict(zip(missing, reader.episode_actions(missing), strict=True)) if missing else {}
    every = np.concatenate([actions[e] if e in actions else kept[e] for e in range(reader.num_episodes)])

    def rewrite(rel: Path, path: Path, out: Path) -> bool:
        if rel.parts[0] == "data" and path.suffix == ".parquet":
            _rewrite_data(path, out, actions, old, new)
        elif str(rel).startswith(layout.EPISODES_DIR + "/") and path.suffix == ".parquet":
            _rewrite_episode_meta(path, out, actions)
        elif str(rel) == layout.STATS_PATH:
            stats = json.loads(path.read_text())
            stats.update(layout.to_jsonable({keys.ACTION: vector_stats(every)}))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(stats))
        elif str(rel) == layout.INFO_PATH and new != old:
            info = json.loads(path.read_text())
            info["features"][keys.ACTION] = new
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(info, indent=4))
        else:
            return False
        return True

    tmp = copy_dataset_files(src, dst, rewrite)
    (tmp / report_path).write_text(json.dumps(report, indent=1) + "\n")
    tmp.rename(dst)
    copy = DatasetReader(dst)
    for path in share_feature_caches(reader, copy):
        log(f"feature cache shared with the copy (hard link, nothing encoded again): {path}")
    return copy
