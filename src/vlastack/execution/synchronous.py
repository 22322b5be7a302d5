"""Synchronous execution: ask the policy, execute the first k actions of the chunk, ask again.

Inference blocks the control loop: while the policy thinks, no action goes out (on a robot the
arm holds still). With chunk horizon H, k = H executes whole chunks (open loop for H steps);
k = 1 re-plans every step.
"""

from __future__ import annotations

from collections import deque

from vlastack.errors import ConfigError
from vlastack.execution.base import EXECUTORS, Clock, Executor, PolicyFn
from vlastack.types import Action, Observation


@EXECUTORS.register("sync")
class SynchronousExecutor(Executor):
    """Execute the first ``k`` actions of each chunk (all of them when ``k`` is None), then ask again."""

    name = "sync"

    def __init__(self, policy: PolicyFn, k: int | None = None, *, clock: Clock | None = None) -> None:
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ConfigError(f"sync executor: k must be a positive integer or None, got {k!r}")
        self.k = k
        super().__init__(policy, **({} if clock is None else {"clock": clock}))

    def _reset(self) -> None:
        self._queue: deque[Action] = deque()

    def _step(self, observation: Observation, now_s: float) -> Action | None:
        if not self._queue:
            actions = self._infer(observation)
            if actions is None:
                return None
            used = len(actions) if self.k is None else min(self.k, len(actions))
            self.events[-1]["used"] = used  # the chunk_received event just emitted
            self._queue.extend(actions[:used])
        return self._queue.popleft()
