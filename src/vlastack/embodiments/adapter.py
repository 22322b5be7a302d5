"""A shared-space policy driving one robot: observations into the shared layout, actions back to the robot's own.

A checkpoint trained on a dataset ``vlastack data embody`` wrote records ``"action_space": "shared"`` in its data
info (:func:`is_shared_space`). Its cameras are slot names (``front``, ``wrist``), its state the shared state and
its actions shared actions (:mod:`.observation`, :mod:`.embodiment`). :class:`SharedSpacePolicy` wraps such a policy
(anything with ``cameras``, ``image_size``, ``depth``, ``execute_steps``, ``observe``, ``__call__`` and ``reset``,
as evaluation's local policy has) for one task: the environment is asked for the task's own cameras, each
observation is mapped (cameras renamed to their slots, state to the shared state, touch left out) before the
policy sees it, and each action chunk is mapped back with the task's embodiment's ``to_native`` before the
executor and the safety layer see it; those work in the robot's own units as for any other policy.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import replace
from typing import Any

import numpy as np

from vlastack.embodiments.embodiment import SHARED_DIM
from vlastack.embodiments.embody import ACTION_SPACE, SHARED
from vlastack.embodiments.observation import native_camera, native_state_names, shared_state
from vlastack.errors import ConfigError


def is_shared_space(data_info: dict | None) -> bool:
    """Whether a checkpoint's data info says its policy acts in the shared action space."""
    return (data_info or {}).get(ACTION_SPACE) == SHARED


class SharedSpacePolicy:
    """``policy`` (acting in the shared spaces) as a policy of ``task``'s robot (its cameras, state and actions)."""

    #: Raw observations remembered with their mapped ones: the inner policy finds the frame it is asked about in
    #: its history by identity, so the same raw observation must map to the same object (async asks lag a little).
    REMEMBERED = 64

    def __init__(self, policy: Any, task: str) -> None:
        from vlastack.embodiments.registry import embodiment_for_task

        self.inner, self.task = policy, task
        self.embodiment = embodiment_for_task(task)
        self.slots = tuple(policy.cameras)
        self.cameras = tuple(native_camera(self.embodiment, s) for s in self.slots)  # what the environment renders
        self.image_size, self.depth, self.execute_steps = policy.image_size, policy.depth, policy.execute_steps
        self.state_names = native_state_names(task)
        self._seen: deque = deque(maxlen=self.REMEMBERED)
        self._lock = threading.Lock()

    def map_observation(self, observation: Any) -> Any:
        """A native observation of the task's robot -> the shared one (slot-named cameras, shared state, no touch)."""
        names = dict(zip(self.cameras, self.slots))
        return replace(
            observation,
            images={names[c]: im for c, im in observation.images.items() if c in names},
            depth={names[c]: d for c, d in observation.depth.items() if c in names},
            state=shared_state(self.embodiment, observation.state, self.state_names),
            touch=None,  # other quantities on each robot: never recorded in a shared dataset
        )

    def _mapped(self, observation: Any) -> Any:
        with self._lock:
            for raw, mapped in reversed(self._seen):
                if raw is observation:
                    return mapped
            mapped = self.map_observation(observation)
            self._seen.append((observation, mapped))
            return mapped

    def observe(self, observation: Any) -> None:
        self.inner.observe(self._mapped(observation))

    def __call__(self, observation: Any) -> Any:
        chunk = self.inner(self._mapped(observation))
        actions = np.asarray(chunk.actions, dtype=np.float32)
        if actions.shape[-1] != SHARED_DIM:
            raise ConfigError(
                f"checkpoint: its data info says it acts in the shared action space ({SHARED_DIM} entries), "
                f"its chunk has {actions.shape[-1]}"
            )
        return replace(chunk, actions=self.embodiment.to_native(actions))

    def reset(self, seed: int) -> None:
        with self._lock:
            self._seen.clear()
        self.inner.reset(seed)
