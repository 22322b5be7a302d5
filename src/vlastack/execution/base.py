"""What every executor shares: the policy and clock types, the event log, the checked policy call.

An executor turns ActionChunks into one action per control step::

    executor.reset()                       # new episode
    action = executor.step(obs, now_s)     # each control step; None = nothing fresh this step

``None`` means the executor has no action to offer (inference failed or is late); the safety
layer's watchdog then repeats the last allowed action briefly and holds. Executors never see the
environment or the actuator: they are built from a policy callable and only return actions.

Everything an executor does is appended to ``executor.events`` as a dict with at least
``event`` (one of the constants below), ``step`` (control step index in the episode) and
``time_s`` (the executor's clock when it happened), so that a report or an operator page can show
it as it happens.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from vlastack.registry import Registry
from vlastack.types import Action, ActionChunk, Observation

#: A policy as executors see it: one observation in, a chunk of batch size 1 out.
PolicyFn = Callable[[Observation], ActionChunk]
#: Seconds, monotonic. ``time.monotonic`` for real runs, a :class:`~vlastack.execution.clock.FakeClock` in tests.
Clock = Callable[[], float]

# Event kinds (the ``event`` field).
CHUNK_REQUESTED = "chunk_requested"
CHUNK_RECEIVED = "chunk_received"
CHUNK_DISCARDED = "chunk_discarded"
INFERENCE_ERROR = "inference_error"
INFERENCE_OVERDUE = "inference_overdue"
STALLED = "stalled"
RESUMED = "resumed"
ENSEMBLED = "ensembled"

#: Executors by name, for ``vlastack eval --executor`` and ``vlastack demo --executor``.
EXECUTORS: Registry[type[Executor]] = Registry("executor")


def chunk_actions(chunk: ActionChunk) -> np.ndarray:
    """The [H, D] float32 actions of a batch-of-one chunk (a copy); ValueError otherwise."""
    actions = np.asarray(chunk.actions)
    if actions.ndim != 3 or actions.shape[0] != 1 or actions.shape[1] < 1:
        raise ValueError(f"executors need a chunk of shape [1, H>=1, D], got {actions.shape}")
    return np.array(actions[0], dtype=np.float32)


class Executor(ABC):
    """Common bookkeeping; subclasses implement ``_reset`` and ``_step``."""

    name: ClassVar[str]

    def __init__(self, policy: PolicyFn, *, clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.events: list[dict] = []
        self.step_index = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything of the previous episode (buffers, events, step count)."""
        self.events = []
        self.step_index = 0
        self._reset()

    def step(self, observation: Observation, now_s: float | None = None) -> Action | None:
        """The action for this control step, or None if there is none fresh."""
        now = self.clock() if now_s is None else float(now_s)
        action = self._step(observation, now)
        self.step_index += 1
        return action

    def close(self) -> None:
        """Release background resources (threads); the executor is unusable afterwards."""

    def summary(self) -> dict:
        """Event counts and the total time stalled, for the evaluation report."""
        counts = Counter(e["event"] for e in self.events)
        stalled = sum(e.get("duration_s", 0.0) for e in self.events if e["event"] == RESUMED)
        return {"executor": self.name, "steps": self.step_index, "events": dict(counts), "stalled_s": stalled}

    @abstractmethod
    def _reset(self) -> None: ...

    @abstractmethod
    def _step(self, observation: Observation, now_s: float) -> Action | None: ...

    def _emit(self, kind: str, **fields: object) -> None:
        self.events.append({"event": kind, "step": self.step_index, "time_s": self.clock(), **fields})

    def _infer(self, observation: Observation) -> np.ndarray | None:
        """Call the policy now (blocking) and return its [H, D] actions; None (and an event) if it fails."""
        self._emit(CHUNK_REQUESTED)
        start = self.clock()
        try:
            chunk = self.policy(observation)
            actions = chunk_actions(chunk)
        except Exception as e:  # a failing policy must not crash the control loop: no action, the layer holds
            self._emit(INFERENCE_ERROR, error=f"{type(e).__name__}: {e}")
            return None
        latency = self.clock() - start
        self._emit(CHUNK_RECEIVED, latency_s=latency, inference_ms=float(chunk.inference_ms), horizon=len(actions))
        return actions
