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

A bad chunk never crashes the control loop. Any exception the policy raises, a chunk that is not
[1, H>=1, D>=1] floating point, and a chunk whose horizon, action size or dtype differs from the
first chunk of the episode (or is shorter than the executor needs, e.g. the ensemble's query
period) give "nothing fresh" (None) for that step, an ``inference_error`` or ``chunk_rejected``
event, and a line in ``summary()["problems"]``; the executor asks again as it would after a
failure. ``reset`` forgets the episode's shape, so the next episode may use another one.
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
CHUNK_REJECTED = "chunk_rejected"
INFERENCE_ERROR = "inference_error"
EXECUTOR_ERROR = "executor_error"
#: Events that mean a chunk was asked for and none came of it (listed in ``summary()["problems"]``).
PROBLEMS = (CHUNK_REJECTED, INFERENCE_ERROR, EXECUTOR_ERROR)
#: How many of the latest problem events ``summary()`` lists in full (all are counted).
PROBLEMS_LISTED = 20
INFERENCE_OVERDUE = "inference_overdue"
STALLED = "stalled"
RESUMED = "resumed"
ENSEMBLED = "ensembled"

#: Executors by name, for ``vlastack eval --executor`` and ``vlastack demo --executor``.
EXECUTORS: Registry[type[Executor]] = Registry("executor")


class ChunkError(ValueError):
    """A chunk the executor cannot use; the message says what is wrong with it."""


def checked_actions(chunk: ActionChunk) -> np.ndarray:
    """The [H, D] actions of a batch-of-one chunk, in the dtype the policy gave (a copy).

    Raises ChunkError naming the problem: no ``actions`` field, not floating point, or a shape other
    than [1, H>=1, D>=1].
    """
    if not hasattr(chunk, "actions"):
        raise ChunkError(f"the policy returned a {type(chunk).__name__}, not an ActionChunk")
    try:
        actions = np.asarray(chunk.actions)
    except Exception as e:  # ragged nested lists and the like
        raise ChunkError(f"chunk actions are not an array: {type(e).__name__}: {e}") from e
    if not np.issubdtype(actions.dtype, np.floating):
        raise ChunkError(f"chunk actions must be floating point, got dtype {actions.dtype}")
    if actions.ndim != 3 or actions.shape[0] != 1 or actions.shape[1] < 1 or actions.shape[2] < 1:
        raise ChunkError(f"executors need a chunk of shape [1, H>=1, D>=1], got {actions.shape}")
    return np.array(actions[0])


def chunk_actions(chunk: ActionChunk) -> np.ndarray:
    """The [H, D] float32 actions of a batch-of-one chunk (a copy); ChunkError (a ValueError) otherwise."""
    return checked_actions(chunk).astype(np.float32)


def chunk_inference_ms(chunk: ActionChunk) -> float:
    """What the chunk reports as its inference time, in milliseconds (0 when it reports nothing usable)."""
    try:
        return float(getattr(chunk, "inference_ms", 0.0))
    except (TypeError, ValueError):
        return 0.0


class Executor(ABC):
    """Common bookkeeping; subclasses implement ``_reset`` and ``_step``."""

    name: ClassVar[str]

    def __init__(self, policy: PolicyFn, *, clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.events: list[dict] = []
        self.step_index = 0
        self._shape: tuple[int, int, np.dtype] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything of the previous episode (buffers, events, step count)."""
        self.events = []
        self.step_index = 0
        self._shape = None  # (horizon, action size, dtype) of the episode's first accepted chunk
        self._reset()

    def step(self, observation: Observation, now_s: float | None = None) -> Action | None:
        """The action for this control step, or None if there is none fresh."""
        now = self.clock() if now_s is None else float(now_s)
        try:
            action = self._step(observation, now)
        except Exception as e:  # a bug here must not stop the robot's loop either: nothing fresh, reported
            self._emit(EXECUTOR_ERROR, error=f"{type(e).__name__}: {e}")
            action = None
        self.step_index += 1
        return action

    def close(self) -> None:
        """Release background resources (threads); the executor is unusable afterwards."""

    def summary(self) -> dict:
        """Event counts and the total time stalled, for the evaluation report."""
        counts = Counter(e["event"] for e in self.events)
        stalled = sum(e.get("duration_s", 0.0) for e in self.events if e["event"] == RESUMED)
        problems = [e for e in self.events if e["event"] in PROBLEMS]
        return {
            "executor": self.name,
            "steps": self.step_index,
            "events": dict(counts),
            "stalled_s": stalled,
            "problems": problems[-PROBLEMS_LISTED:],
        }

    @abstractmethod
    def _reset(self) -> None: ...

    @abstractmethod
    def _step(self, observation: Observation, now_s: float) -> Action | None: ...

    def _emit(self, kind: str, **fields: object) -> None:
        self.events.append({"event": kind, "step": self.step_index, "time_s": self.clock(), **fields})

    def _min_horizon(self) -> int:
        """The fewest actions a chunk must hold for this executor to use it."""
        return 1

    def _accept(self, actions: np.ndarray, **fields: object) -> np.ndarray | None:
        """``actions`` as float32 if they fit this episode's chunks; else None and a ``chunk_rejected`` event.

        The first chunk of an episode fixes horizon, action size and dtype; a later chunk that
        differs in any of them is refused rather than mixed with the others (a different action
        size cannot be blended or ensembled, and a changed dtype or horizon means the policy is not
        the one the episode started with).
        """
        horizon, dim = actions.shape
        expected = self._shape or (horizon, dim, actions.dtype)
        reason = None
        if horizon < self._min_horizon():
            reason = f"horizon {horizon} is shorter than the {self._min_horizon()} actions this executor needs"
        elif (horizon, dim, actions.dtype) != expected:
            reason = (
                f"chunk changed mid-episode: horizon {horizon}, action size {dim}, dtype {actions.dtype}; "
                f"the episode's chunks have horizon {expected[0]}, action size {expected[1]}, dtype {expected[2]}"
            )
        if reason is not None:
            self._emit(CHUNK_REJECTED, reason=reason, horizon=horizon, action_dim=dim, dtype=str(actions.dtype), **fields)
            return None
        self._shape = expected
        return actions.astype(np.float32)

    def _infer(self, observation: Observation) -> np.ndarray | None:
        """Call the policy now (blocking) and return its [H, D] float32 actions; None (and an event) if it fails."""
        self._emit(CHUNK_REQUESTED)
        start = self.clock()
        try:
            chunk = self.policy(observation)
            raw = checked_actions(chunk)
        except Exception as e:  # a failing policy must not crash the control loop: no action, the layer holds
            self._emit(INFERENCE_ERROR, error=f"{type(e).__name__}: {e}")
            return None
        actions = self._accept(raw)
        if actions is None:
            return None
        latency = self.clock() - start
        self._emit(CHUNK_RECEIVED, latency_s=latency, inference_ms=chunk_inference_ms(chunk), horizon=len(actions))
        return actions
