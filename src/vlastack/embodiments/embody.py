"""Rewrite datasets of several robots into one dataset in the shared spaces (``vlastack data embody``).

Every frame of every source episode becomes a frame of the new dataset (the same LeRobot v3 layout, written by
:class:`vlastack.episodes.writer.DatasetWriter`, so ``vlastack train`` reads it unchanged) with:

- ``action``: the shared action (:mod:`.embodiment`, :data:`SHARED_DIM` entries), ``embodiment_for_task(task)
  .to_shared(native)``; the entries a robot does not use are 0;
- ``observation.state``: the shared state (:mod:`.observation`: hand position from the table centre in the shared
  frame, metres, and gripper opening);
- ``observation.images.<slot>``: each camera slot (``front``, ``wrist``) from the suite's camera that fills it,
  resized to one side;
- ``next.reward``, ``next.success`` when every source records them.

Dropped: touch (Meta-World's two finger forces and robosuite's wrist force-torque are not one quantity), depth,
the privileged ``observation.environment_state`` (other objects, other layouts), the safety layer's columns.
Each episode keeps its instruction (task string), seed, success and ``vlastack/env_task``, and records
``vlastack/embodiment`` (its robot), ``vlastack/source`` (``<dataset path>#<episode>``) and ``vlastack/control_hz``.
info.json says ``"action_space": "shared"`` (what training copies into a checkpoint and evaluation reads,
:mod:`.adapter`).

Time: a frame stays one control step of its robot (the shared action is a per-step delta, see
:mod:`.embodiment`), so the dataset's ``fps`` is nominal, the first source's; an episode's own rate is its
``vlastack/control_hz`` (Meta-World 80, robosuite 20), and timestamps of episodes at another rate are not seconds.

Crash safety: the dataset is written into ``.tmp-embody-<name>`` beside ``out`` (itself resumable: the writer
commits whole episodes, and a rerun of the same command continues after the last one) and renamed to ``out``
when complete, so ``out`` never exists half written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.embodiments.embodiment import SHARED_ACTION_NAMES, Embodiment
from vlastack.embodiments.observation import CAMERA_SLOTS, DEFAULT_SLOTS, SHARED_STATE_NAMES, native_camera, shared_state
from vlastack.episodes.video import VideoSettings
from vlastack.errors import ConfigError

#: info.json key (and checkpoint ``data_info`` key) naming a dataset's action space; absent: each robot's own.
ACTION_SPACE = "action_space"
#: Its value for datasets written here.
SHARED = "shared"
#: info.json key describing how the dataset was made (sources, camera slots, state layout).
EMBODY_INFO = "vlastack_embody"
TMP_PREFIX = ".tmp-embody-"


@dataclass(frozen=True)
class EmbodyConfig:
    """One ``vlastack data embody`` run."""

    datasets: tuple[Path, ...]
    """Source dataset directories (vlastack-collected: each episode names its ``vlastack/env_task``), in order."""
    out: Path
    """The new dataset's directory; must not exist yet."""
    image_size: int | None = None
    """Side of every camera image in pixels (even); None: the first source's first slot's side."""
    cameras: tuple[str, ...] = DEFAULT_SLOTS
    """Camera slots recorded (:data:`vlastack.embodiments.observation.CAMERA_SLOTS`); every source must have each."""
    video: VideoSettings = field(default_factory=VideoSettings)
    """How camera streams are encoded."""

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ConfigError("datasets: expected at least one dataset directory")
        if len(set(map(_abs, self.datasets))) != len(self.datasets):
            raise ConfigError(f"datasets: a dataset is named twice: {[str(d) for d in self.datasets]}")
        if self.image_size is not None and (self.image_size < 2 or self.image_size % 2):
            raise ConfigError(f"image_size: expected an even number of pixels >= 2 (video encoding needs it), got {self.image_size}")
        if not self.cameras:
            raise ConfigError(f"cameras: expected at least one camera slot of {list(CAMERA_SLOTS)}")
        unknown = [c for c in self.cameras if c not in CAMERA_SLOTS]
        if unknown:
            raise ConfigError(f"cameras: unknown camera slots {unknown}; the shared slots are {list(CAMERA_SLOTS)}")
        if Path(self.out).exists():
            raise ConfigError(f"out: {self.out} already exists; embody writes a new dataset: choose another --out or delete it")


@dataclass
class EmbodySummary:
    """What a run wrote."""

    out: Path
    episodes: dict[str, int]
    """Embodiment id -> episodes."""
    frames: int
    resumed_from: int = 0
    """Episodes already written by an interrupted run of the same command."""


def _abs(path: Path) -> str:
    return str(Path(path).resolve())


def _plan(config: EmbodyConfig) -> tuple[list[Any], list[tuple[int, int, Embodiment]], int, bool]:
    """Open every source and check it can be mapped, before anything is written: the readers, (source, episode,
    embodiment) in order, the image side, and whether every source records reward and success."""
    from vlastack.embodiments.observation import native_state_names
    from vlastack.embodiments.registry import embodiment_for_task
    from vlastack.episodes.reader import DatasetReader

    readers, jobs = [], []
    for d, root in enumerate(config.datasets):
        r = DatasetReader(root)
        readers.append(r)
        if r.info.get(ACTION_SPACE) == SHARED:
            raise ConfigError(f"datasets: {root} is already in the shared action space (written by embody)")
        for e, task in enumerate(
            r.episodes["vlastack/env_task"].tolist() if "vlastack/env_task" in r.episodes else [None] * r.num_episodes
        ):
            if not task:
                raise ConfigError(
                    f"datasets: episode {e} of {root} names no vlastack/env_task: its robot is unknown, it cannot be mapped to the shared space"
                )
            try:
                emb = embodiment_for_task(str(task))
            except ConfigError as err:
                raise ConfigError(f"datasets: episode {e} of {root} ({task}) cannot be mapped to the shared space: {err}") from None
            for slot in config.cameras:
                cam = native_camera(emb, slot)
                if keys.image_key(cam) not in r.features:
                    raise ConfigError(
                        f"datasets: {root} has no camera {cam!r} for the {slot!r} slot ({emb.id}, episode {e}); "
                        f"its cameras: {r.cameras}; record it, or leave the slot out (--cameras)"
                    )
            _check_vector(r, root, keys.ACTION, list(emb.native_action_names), e)
            _check_vector(r, root, keys.STATE, native_state_names(str(task)), e)
            jobs.append((d, e, emb))
    if not jobs:
        raise ConfigError(f"datasets: {[str(d) for d in config.datasets]} hold no episodes")
    size = config.image_size
    if size is None:
        first = readers[0]
        size = int(first.features[keys.image_key(native_camera(jobs[0][2], config.cameras[0]))]["shape"][0])
    scored = all(keys.REWARD in r.features and keys.SUCCESS in r.features for r in readers)
    return readers, jobs, size, scored


def _check_vector(reader: Any, root: Path, key: str, names: list[str], episode: int) -> None:
    feat = reader.features.get(key)
    if feat is None:
        raise ConfigError(f"datasets: {root} has no {key!r} feature")
    recorded = feat.get("names")
    if list(feat["shape"]) != [len(names)] or (recorded is not None and list(recorded) != names):
        raise ConfigError(
            f"datasets: {root}'s {key!r} is {recorded or feat['shape']}, episode {episode}'s robot records {names}: cannot map it"
        )


def embody_episode(
    episode: Any, embodiment: Embodiment, cameras: tuple[str, ...], image_size: int, state_names: list[str], scored: bool
) -> dict[str, np.ndarray]:
    """One source :class:`~vlastack.types.Episode`'s frames in the shared spaces (see the module docstring)."""
    from vlastack.serving.client import resize_image

    f = episode.frames
    frames = {}
    for slot in cameras:
        video = f[keys.image_key(native_camera(embodiment, slot))]
        frames[keys.image_key(slot)] = np.stack([resize_image(im, (image_size, image_size)) for im in video])
    frames[keys.STATE] = shared_state(embodiment, f[keys.STATE], state_names)
    frames[keys.ACTION] = embodiment.to_shared(f[keys.ACTION])
    if scored:
        frames[keys.REWARD] = np.asarray(f[keys.REWARD], dtype=np.float32).reshape(-1)
        frames[keys.SUCCESS] = np.asarray(f[keys.SUCCESS], dtype=bool).reshape(-1)
    return frames


def embody(config: EmbodyConfig, progress: bool = True) -> EmbodySummary:
    """Write ``config.out`` (see the module docstring); a rerun after an interruption continues the same run."""
    from tqdm import tqdm

    from vlastack.embodiments.observation import native_state_names
    from vlastack.episodes import durable, layout
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.types import Episode

    readers, jobs, size, scored = _plan(config)
    out = Path(config.out)
    tmp = out.parent / (TMP_PREFIX + out.name)
    log = {"sources": [_abs(d) for d in config.datasets], "image_size": size, "cameras": list(config.cameras)}
    log_path = tmp / "meta" / "vlastack_embody.json"
    if tmp.exists():
        had = json.loads(log_path.read_text()) if log_path.is_file() else None
        if had != log:
            raise ConfigError(f"out: {tmp} holds an interrupted embody run of other settings ({had}); delete it, or rerun those settings")
    durable.make_dirs(tmp / "meta")
    layout.write_json_atomic(log_path, log)
    emb_ids = sorted({e.id for _, _, e in jobs})
    writer = DatasetWriter(
        tmp,
        robot_type=emb_ids[0] if len(emb_ids) == 1 else "mixed",
        video=config.video,
        feature_names={keys.STATE: list(SHARED_STATE_NAMES), keys.ACTION: list(SHARED_ACTION_NAMES)},
        extra_info={
            ACTION_SPACE: SHARED,
            EMBODY_INFO: {
                "sources": log["sources"],
                "camera_slots": {slot: CAMERA_SLOTS[slot] for slot in config.cameras},
                "embodiments": emb_ids,
                "fps": "nominal (the first source's); each episode's own rate is its vlastack/control_hz",
            },
        },
    )
    done = writer.num_episodes
    fps = readers[0].fps
    counts: dict[str, int] = {}
    frames = 0
    for i, (d, e, emb) in enumerate(tqdm(jobs, desc="embody", unit="ep", disable=not progress)):
        counts[emb.id] = counts.get(emb.id, 0) + 1
        frames += readers[d].length(e)
        if i < done:
            continue
        src = readers[d].episode(e)
        shared = embody_episode(src, emb, config.cameras, size, native_state_names(src.env_task), scored)
        episode = Episode(task=src.task, frames=shared, fps=fps, success=src.success, seed=src.seed, env_task=src.env_task)
        meta = {"vlastack/embodiment": emb.id, "vlastack/source": f"{_abs(config.datasets[d])}#{e}", "vlastack/control_hz": readers[d].fps}
        writer.add_episode(episode, meta)
    os.replace(tmp, out)  # complete: publish it under its name
    durable.fsync_dir(out.parent)
    return EmbodySummary(out=out, episodes=counts, frames=frames, resumed_from=done)
