"""Training windows: for a frame t of an episode, the observation history t-T+1..t and the
action horizon t..t+H-1, with padding masks where a window runs past the episode's ends.

Padded positions copy the nearest real step (the first frame before the start, the last action
after the end) and are flagged True in ``<feature>_is_pad``; losses must ignore them.

Frames are decoded once, because decoding video at every training step would cost more than the
model on a CPU. Where they are kept is the ``frames`` option: ``"memory"`` (default) holds every
decoded frame in this process (uint8 images, float32 depth); ``"memmap"`` decodes them once into an
on-disk cache (data/frame_cache.py) and reads them through the page cache, for datasets that do not
fit in RAM and for DataLoader workers that should share one copy. Both give identical samples.
"memory" stays the default because, read from a fresh process, it was the faster of the two on
runs/mt10_50 (benchmarks/data_throughput.py: about 3,800-5,300 vs 2,100-2,800 samples/s on a
shared 2-core VM), while "memmap" holds ~0.3 GB of process memory instead of ~4 GB there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vlastack import keys
from vlastack.data.frame_cache import CachedFrames, frame_array, open_frame_cache
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import ConfigError, DatasetError
from vlastack.types import Batch

#: Per-episode entry holding the ``label_key`` column (not a sample key).
_LABELLED = "_labelled"


def window(length: int, t: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices t + offsets clamped into [0, length) and the mask of those that were clamped."""
    idx = t + offsets
    pad = (idx < 0) | (idx >= length)
    return np.clip(idx, 0, length - 1), pad


class WindowDataset(Dataset):
    """One sample per frame of every episode: a dict of tensors plus the instruction.

    Sample keys: ``observation.images.<cam>`` float32 [T, 3, Hi, Wi] in [0, 1];
    ``observation.depth.<cam>`` float32 [T, 1, Hi, Wi]; ``observation.state`` [T, S];
    ``observation.touch`` [T, F]; ``action`` [H, D]; ``observation.state_is_pad`` bool [T];
    ``action_is_pad`` bool [H]; ``instruction`` str; ``episode_index``, ``frame_index`` int; and each
    of ``targets`` (vector features a policy's loss reads, e.g. privileged simulator state) at frame t [S].

    ``frames``: ``"memory"`` keeps decoded images and depth maps in this process; ``"memmap"`` reads
    them from the on-disk frame cache in ``cache_dir`` (default ``<dataset>/cache``, or a folder
    under ``~/.cache/vlastack/frames`` when the dataset is read-only), building it
    first if it is missing or the dataset changed (the cache covers every episode of the dataset);
    ``progress`` shows a progress bar while it is built. Samples are identical either way.

    ``label_key`` (a per-frame bool feature, e.g. ``intervention``) keeps only the samples whose frame t
    has it true, and ends their action window at the first step where it is false (those steps are
    padding and repeat the last label): in an episode where an operator took over now and then, only
    the operator's actions are labels, and a window that runs past the hand-back teaches the policy
    neither its own proposals nor operator actions that followed them.

    ``action_key`` names the column the ``action`` targets are read from: ``action`` (what was sent),
    or another per-frame action column of the same width, e.g. ``expert.action`` in DAgger episodes
    (improve/interventions.py), where the expert labels every frame the policy drove.

    ``subtasks`` (a hierarchical policy's closed subtask vocabulary, ``PolicyConfig.subtask_vocabulary``)
    adds plan labels, derived from each episode's privileged state and its long-horizon task
    (reasoning/plan.py): ``subtask`` (the text of the stage the expert works on at frame t) and the
    tensors ``subtask.index``, ``subtask.history``, ``subtask.previous``, ``subtask.since`` (see keys.py).

    ``future_offsets`` (frames ahead, each >= 1; ``PolicyConfig.future_frame_offsets``) adds, for every
    camera stream (and depth stream) read, ``future.<stream>`` (``keys.future_key``): its frames at
    t + offset, one row per offset [F, ch, Hi, Wi], scaled like the observation, clamped at the episode's
    last frame. They come from the same frame store (memory or the memmap cache) as the observation.
    Training-only supervision (e.g. a future-prediction loss); empty (the default) adds no key.

    ``feature_caches`` (image key -> that stream's frozen-trunk maps, ``data.feature_cache.open_feature_cache``
    over the same dataset) serves, for each of those cameras, ``cached.<image key>`` (``keys.cached_key``): the
    maps of the observation frames, float16 [T, C, h, w], instead of the images (which are then neither read nor
    kept); with ``future_offsets``, ``future.cached.<image key>`` [F, C, h, w] from the same cache.
    """

    FRAME_STORES = ("memory", "memmap")

    def __init__(
        self,
        reader: DatasetReader,
        obs_history: int = 1,
        action_horizon: int = 16,
        image_keys: list[str] | None = None,
        state: bool = True,
        touch: bool = False,
        depth: bool = False,
        episodes: list[int] | None = None,
        frames: str = "memory",
        cache_dir: str | Path | None = None,
        progress: bool = False,
        targets: Iterable[str] = (),
        label_key: str | None = None,
        subtasks: tuple[str, ...] | None = None,
        action_key: str = keys.ACTION,
        future_offsets: Iterable[int] = (),
        feature_caches: Mapping[str, CachedFrames] | None = None,
    ) -> None:
        if obs_history < 1 or action_horizon < 1:
            raise DatasetError(f"obs_history and action_horizon must be >= 1, got {obs_history}, {action_horizon}")
        if frames not in self.FRAME_STORES:
            raise ConfigError(f"frames must be one of {self.FRAME_STORES}, got {frames!r}")
        if cache_dir is not None and frames != "memmap":
            raise ConfigError(f"cache_dir is only used with frames='memmap' (frames is {frames!r})")
        feats = reader.features
        self.image_keys = list(reader.video_keys if image_keys is None else image_keys)
        for k in self.image_keys:
            if k not in feats:
                raise DatasetError(f"camera stream {k!r} is not in {reader.root}; it has {reader.video_keys}")
        self.depth_keys = [keys.depth_key(keys.camera_of(k)) for k in self.image_keys] if depth else []
        self.vector_keys = [k for k, on in ((keys.STATE, state), (keys.TOUCH, touch)) if on]
        self.target_keys = [k for k in targets if k not in self.vector_keys]
        for k in self.depth_keys + self.vector_keys + self.target_keys:
            if k not in feats:
                raise DatasetError(f"feature {k!r} is not in {reader.root}; its features are {sorted(feats)}")
        if action_key != keys.ACTION and action_key not in feats:
            raise DatasetError(f"action_key: feature {action_key!r} is not in {reader.root}; its features are {sorted(feats)}")
        if label_key is not None and label_key not in feats:
            raise DatasetError(f"label_key: feature {label_key!r} is not in {reader.root}; its features are {sorted(feats)}")
        future = tuple(future_offsets)
        if any(not isinstance(o, int | np.integer) or isinstance(o, bool) or o < 1 for o in future):
            raise ConfigError(f"future_offsets must be whole numbers of frames >= 1, got {future!r}")
        self.future_offsets = np.asarray(future, dtype=np.int64)
        self.has_action = action_key in feats
        self.action_key = action_key
        self.obs_offsets = np.arange(-obs_history + 1, 1)
        self.action_offsets = np.arange(action_horizon)
        self.episodes = list(range(reader.num_episodes)) if episodes is None else list(episodes)
        for e in self.episodes:
            if not 0 <= e < reader.num_episodes:
                raise DatasetError(f"episodes: episode {e} does not exist; {reader.root} has episodes 0..{reader.num_episodes - 1}")
        self.frames = frames
        self.feature_caches = dict(feature_caches or {})
        lengths_all = [reader.length(e) for e in range(reader.num_episodes)]
        for k, cache in self.feature_caches.items():
            if k not in self.image_keys:
                raise ConfigError(f"feature_caches: {k!r} is not one of the camera streams read ({self.image_keys})")
            if not isinstance(cache, CachedFrames) or cache.offsets != [0, *np.cumsum(lengths_all).tolist()]:
                raise DatasetError(f"feature_caches: the cache of {k!r} was not built from {reader.root} (its episode lengths differ)")
        # Streams whose trunk maps are served come from the feature cache alone: their images are not decoded.
        frame_keys = [k for k in self.image_keys if k not in self.feature_caches] + self.depth_keys
        # memmap: key -> the cache of every dataset episode; the per-episode dicts then hold only vectors.
        self._cache = open_frame_cache(reader, frame_keys, cache_dir, progress) if frames == "memmap" else {}
        self._data: list[dict[str, torch.Tensor]] = []
        self._task: list[str] = []
        self.subtasks = tuple(subtasks) if subtasks else None
        self._plans: list[tuple[tuple[str, ...], dict[str, torch.Tensor]]] = []  # per episode, with subtasks
        for e in self.episodes:
            cols = reader.read_columns(e)
            if self.subtasks is not None:
                self._plans.append(_plan_columns(reader, e, cols, self.subtasks))
            ep: dict[str, torch.Tensor] = {}
            for k in self.vector_keys + self.target_keys:
                ep[k] = torch.from_numpy(cols[k].astype(np.float32).reshape(len(cols[k]), -1))
            if self.has_action:
                labels = cols[action_key]
                ep[keys.ACTION] = torch.from_numpy(labels.astype(np.float32).reshape(len(labels), -1))
            if label_key is not None:
                ep[_LABELLED] = torch.from_numpy(np.asarray(cols[label_key]).reshape(len(cols[label_key])).astype(bool))
            if frames == "memory":
                for k in frame_keys:
                    ep[k] = torch.from_numpy(frame_array(reader, e, k, cols))
            self._data.append(ep)
            self._task.append(str(reader.episode_meta(e)["tasks"][0]))
        lengths = [reader.length(e) for e in self.episodes]
        self._index = [
            (i, int(t))
            for i, n in enumerate(lengths)
            for t in (range(n) if label_key is None else np.flatnonzero(self._data[i][_LABELLED].numpy()))
        ]
        self._lengths = lengths
        self._labelled = label_key is not None
        starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(int) if lengths else []
        self._first_sample = {e: (i, int(x)) for i, (e, x) in enumerate(zip(self.episodes, starts))}  # episode -> (position, first sample)

    def sample_index(self, episode: int, frame: int) -> int:
        """The index of the sample of frame ``frame`` of dataset episode ``episode`` (one of ``episodes``), for a
        dataset without ``label_key`` (every frame is then a sample, episode after episode)."""
        if self._labelled:
            raise DatasetError("sample_index: with label_key only the labelled frames are samples; their order is not by frame")
        if episode not in self._first_sample:
            raise DatasetError(f"sample_index: episode {episode} is not one of this dataset's episodes")
        position, first = self._first_sample[episode]
        n = self._lengths[position]
        if not 0 <= frame < n:
            raise DatasetError(f"sample_index: episode {episode} has frames 0..{n - 1}, not {frame}")
        return first + int(frame)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> dict:
        ep_i, t = self._index[i]
        ep, n = self._data[ep_i], self._lengths[ep_i]
        obs_idx, obs_pad = window(n, t, self.obs_offsets)
        out: dict = {"instruction": self._task[ep_i], keys.EPISODE_INDEX: self.episodes[ep_i], keys.FRAME_INDEX: t}
        for k in self.image_keys:
            if k in self.feature_caches:
                out[keys.cached_key(k)] = self._maps(ep_i, k, obs_idx)
            else:
                out[k] = self._frames(ep_i, k, obs_idx).float() / 255.0
        for k in self.depth_keys:
            out[k] = self._frames(ep_i, k, obs_idx)
        for k in self.vector_keys:
            out[k] = ep[k][obs_idx]
        if len(self.future_offsets):
            future_idx, _ = window(n, t, self.future_offsets)  # past the end: the last frame
            for k in self.image_keys:
                if k in self.feature_caches:
                    out[keys.future_key(keys.cached_key(k))] = self._maps(ep_i, k, future_idx)
                else:
                    out[keys.future_key(k)] = self._frames(ep_i, k, future_idx).float() / 255.0
            for k in self.depth_keys:
                out[keys.future_key(k)] = self._frames(ep_i, k, future_idx)
        for k in self.target_keys:
            out[k] = ep[k][t]  # training-only supervision at the current frame [S], never a policy input
        out[keys.STATE + keys.PAD_SUFFIX] = torch.from_numpy(obs_pad)
        if self.subtasks is not None:
            _, labels = self._plans[ep_i]
            out["subtask"] = self.subtasks[int(labels[keys.SUBTASK_TARGET][t])]
            out.update({k: v[t] for k, v in labels.items()})
        if self.has_action:
            act_idx, act_pad = window(n, t, self.action_offsets)
            if _LABELLED in ep:
                # The labels end at the first step the operator did not choose and stay ended (a later
                # takeover's actions follow policy steps this sample does not show); like padding past
                # the episode's end, the cut-off steps repeat the last label (frame t is always one).
                act_pad = np.logical_or.accumulate(act_pad | ~ep[_LABELLED][act_idx].numpy())
                if act_pad.any():
                    act_idx = np.where(act_pad, act_idx[int(act_pad.argmax()) - 1], act_idx)
            out[keys.ACTION] = ep[keys.ACTION][act_idx]
            out[keys.ACTION + keys.PAD_SUFFIX] = torch.from_numpy(act_pad)
        return out

    def _maps(self, ep_i: int, key: str, idx: np.ndarray) -> torch.Tensor:
        """The cached trunk maps of frames ``idx`` of the ``ep_i``-th selected episode, float16 as stored."""
        return torch.from_numpy(self.feature_caches[key].rows(self.episodes[ep_i], idx))

    def _frames(self, ep_i: int, key: str, idx: np.ndarray) -> torch.Tensor:
        """Frames ``idx`` of the ``ep_i``-th selected episode, in the stored layout and dtype."""
        if self.frames == "memory":
            return self._data[ep_i][key][idx]
        return torch.from_numpy(self._cache[key].rows(self.episodes[ep_i], idx))


def _plan_columns(
    reader: DatasetReader, e: int, cols: dict, vocabulary: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, torch.Tensor]]:
    """Per-frame plan label tensors of episode ``e`` (see ``WindowDataset``'s ``subtasks``)."""
    from vlastack.reasoning.plan import history_counts, plan_labels

    task = str(reader.episode_meta(e).get("vlastack/env_task") or "")
    if keys.ENV_STATE not in cols:
        raise DatasetError(f"{reader.root} has no {keys.ENV_STATE!r}: plan labels are derived from the privileged state")
    try:
        labels = plan_labels(task, np.asarray(cols[keys.ENV_STATE], dtype=np.float64))
    except ConfigError as err:
        raise DatasetError(f"episode {e} of {reader.root} ({task!r}) has no plan: {err}") from err
    missing = sorted(set(labels.plan) - set(vocabulary))
    if missing:
        raise DatasetError(f"episode {e} of {reader.root} needs subtasks {missing} that the policy's vocabulary {vocabulary} lacks")
    index = np.array([vocabulary.index(s) for s in labels.plan])
    stage = labels.stage
    hist = np.stack([history_counts(labels.plan[:k], vocabulary) for k in range(len(labels.plan))])
    out = {
        keys.SUBTASK_TARGET: torch.from_numpy(index[stage]),
        keys.SUBTASK_HISTORY: torch.from_numpy(hist[stage]),
        keys.SUBTASK_PREVIOUS: torch.from_numpy(np.where(stage > 0, index[np.maximum(stage - 1, 0)], -1)),
        keys.SUBTASK_SINCE: torch.from_numpy(labels.since),
    }
    if keys.STATE in cols:  # what the arm did during the subtask in progress (a done-detector's memory)
        state = np.asarray(cols[keys.STATE], dtype=np.float32).reshape(len(stage), -1)
        start = np.arange(len(stage)) - labels.since  # first frame of each frame's stage
        lag_start = np.where(stage > 0, start[np.maximum(start - 1, 0)], start)  # ... of the stage before
        out[keys.SUBTASK_MOTION] = torch.from_numpy(running_extremes(state, start))
        out[keys.SUBTASK_MOTION_LAG] = torch.from_numpy(running_extremes(state, lag_start))
    return labels.plan, out


def running_extremes(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """float32 [N, 2, S]: per frame t, the maximum and minimum of ``values`` [N, S] over frames ``start[t]`` to t.
    ``start`` [N] is non-decreasing with ``start[t] <= t`` (frames sharing a start are consecutive)."""
    out = np.empty((len(values), 2, values.shape[1]), dtype=np.float32)
    for a in np.unique(start):
        rows = np.flatnonzero(start == a)
        first, end = int(rows[0]), int(rows[-1]) + 1
        out[first:end, 0] = np.maximum.accumulate(values[a:end], axis=0)[first - a :]
        out[first:end, 1] = np.minimum.accumulate(values[a:end], axis=0)[first - a :]
    return out


def collate(samples: list[dict]) -> Batch:
    """Stack samples from WindowDataset into a Batch."""
    features = {k: torch.stack([s[k] for s in samples]) for k, v in samples[0].items() if isinstance(v, torch.Tensor)}
    subtask = [s["subtask"] for s in samples] if "subtask" in samples[0] else None
    return Batch(features=features, instruction=[s["instruction"] for s in samples], subtask=subtask)
