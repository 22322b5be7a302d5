"""Recording a console session: every finished episode goes into a LeRobot dataset, with the person's takeovers.

Each frame holds what any recorded episode holds (envs/rollout.py: the cameras, depth, state, touch and
privileged simulator state at that step, the action the safety layer let through, reward, success, and
what the layer did) plus the assisted-episode columns of :mod:`vlastack.improve.interventions`:
``intervention`` (the person, not the policy, chose the frame's action) and ``policy.action`` (what the
policy proposed, zeros when it had nothing fresh). A frame that carried a stop's or a question's hold is
neither's: its flag is false and its proposal zeros (the proposal was not sent). So ``vlastack improve``'s fine-tuning
(``WindowDataset(label_key="intervention")``) learns from exactly the frames the person drove.

:class:`EpisodeFrames` gathers one episode's rows on the simulator thread; :class:`EpisodeRecorder` writes
finished episodes with :class:`~vlastack.episodes.writer.DatasetWriter` (one whole episode at a time, so
a crash loses at most the episode being written) on a thread of its own, so the live session does not
stall while a video is encoded.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.types import Episode

log = logging.getLogger("vlastack.console")


class EpisodeFrames:
    """One episode's rows, appended step by step (the column layout of envs/rollout.py plus the takeover columns)."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim
        self.rows: dict[str, list[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.rows.get(keys.ACTION, []))

    def add(
        self,
        observation: Any,
        info: dict[str, Any],
        decision: dict[str, Any],
        reward: float,
        success: bool,
        operator: bool,
        proposed: np.ndarray | None,
    ) -> None:
        """One step: the observation and info it started from, the layer's decision, what followed, and who chose the action."""
        from vlastack.envs.rollout import SAFETY_HELD, SAFETY_INTERVENTIONS, append_observation
        from vlastack.improve.interventions import INTERVENTION, POLICY_ACTION

        r = self.rows
        append_observation(r, observation, info)  # the same observation columns as every other recorded episode
        r.setdefault(keys.ACTION, []).append(np.asarray(decision["action"], dtype=np.float32))
        r.setdefault(SAFETY_INTERVENTIONS, []).append(np.array([len(decision["interventions"])], dtype=np.int64))
        r.setdefault(SAFETY_HELD, []).append(np.array([bool(decision["held"])]))
        r.setdefault(keys.REWARD, []).append(np.float32(reward))
        r.setdefault(keys.SUCCESS, []).append(np.bool_(success))
        r.setdefault(INTERVENTION, []).append(np.array([bool(operator)]))
        policy = np.zeros(self.action_dim, np.float32) if proposed is None else np.asarray(proposed, np.float32).reshape(-1)
        r.setdefault(POLICY_ACTION, []).append(policy)

    def episode(self, instruction: str, fps: int, success: bool, seed: int, env_task: str) -> Episode:
        return Episode(
            task=instruction,
            frames={k: np.stack(v) for k, v in self.rows.items()},
            fps=fps,
            success=success,
            seed=seed,
            env_task=env_task,
        )


class EpisodeRecorder:
    """Writes submitted episodes to the dataset at ``root`` on a background thread, in submission order.

    ``report(text)`` is called from that thread after each episode (written, or why not). Opening
    an existing dataset resumes it (DatasetWriter's recovery); one that was not recorded with the
    takeover columns (a demonstration set) is refused up front rather than at the first episode's end.
    """

    def __init__(self, root: str | Path, report: Callable[[str], None]) -> None:
        from vlastack.episodes.writer import DatasetWriter
        from vlastack.improve.interventions import INTERVENTION, assisted_feature_names

        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"record: {self.root} is a file; give a dataset directory (new or one the console recorded)")
        self._writer = DatasetWriter(self.root, robot_type="sawyer", feature_names=assisted_feature_names())
        if self._writer.features is not None and INTERVENTION not in self._writer.features:
            raise ConfigError(
                f"record: {self.root} holds a dataset without the {INTERVENTION!r} column (not one the console recorded); "
                "give a new directory"
            )
        self._report = report
        self._queue: queue.Queue[tuple[Episode, str] | None] = queue.Queue()
        self.written = 0
        """Episodes this session wrote."""
        self.failed = 0
        """Episodes this session could not write."""
        self._thread = threading.Thread(target=self._run, name="console-recorder", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Episodes submitted and not yet written (or failed)."""
        return self._queue.unfinished_tasks

    @property
    def total(self) -> int:
        """Episodes in the dataset, earlier sessions' included."""
        return self._writer.num_episodes

    def check_cameras(self, shapes: dict[str, tuple[int, int, int]]) -> None:
        """Refuse, before anything is recorded, a dataset whose camera streams differ from ``shapes``
        (image feature -> (H, W, 3)): every episode of a dataset has the same features."""
        if self._writer.features is None:
            return
        there = {k: tuple(f["shape"]) for k, f in self._writer.features.items() if k.startswith(keys.IMAGES_PREFIX)}
        if there != shapes:
            raise ConfigError(
                f"record: {self.root} was recorded with cameras {there}, this session renders {shapes}; "
                "give a new directory or the same cameras and image size"
            )

    def submit(self, episode: Episode, label: str) -> None:
        """Queue ``episode`` for writing; ``label`` names it in the report ("episode 3 (seed 3)")."""
        self._queue.put((episode, label))

    def flush(self) -> None:
        """Wait until every submitted episode is written (or has failed)."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        from vlastack.improve.interventions import INTERVENTION

        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                episode, label = item
                try:
                    index = self._writer.add_episode(episode)
                except Exception as err:  # noqa: BLE001 - told to the person; the session goes on
                    self.failed += 1
                    log.exception("recording %s failed", label)
                    self._report(f"{label} was not recorded ({type(err).__name__}: {err})")
                    continue
                self.written += 1
                own = int(np.count_nonzero(episode.frames[INTERVENTION]))
                self._report(f"{label} recorded as episode {index} of {self.root} ({len(episode)} frames, {own} yours)")
            finally:
                self._queue.task_done()
