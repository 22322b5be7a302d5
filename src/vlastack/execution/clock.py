"""Time for tests and simulated runs: a fake clock, and a policy wrapper that adds inference delay."""

from __future__ import annotations

import time
from collections.abc import Callable

from vlastack.execution.base import PolicyFn
from vlastack.types import ActionChunk, Observation


class FakeClock:
    """A clock that moves only when told: ``clock()`` reads it, ``advance(dt)`` / ``sleep(dt)`` move it.

    Not meant to be shared with a real background thread; the simulated async runner
    (:class:`~vlastack.execution.runners.SimulatedLatencyRunner`) is the fake-clock way to run async.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = float(start_s)

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        if dt_s < 0:
            raise ValueError(f"a clock cannot go back: advance({dt_s})")
        self.now_s += dt_s

    sleep = advance


class DelayedPolicy:
    """``policy`` that takes ``delay_s`` longer: ``sleep(delay_s)`` then the real call.

    With ``sleep=time.sleep`` it really blocks (real-time runs, the threaded async runner); with a
    :class:`FakeClock`'s ``advance`` it moves simulated time, which is how the synchronous and
    ensembling executors are timed under simulated delay. ``inference_ms`` of the chunk includes
    the delay.
    """

    def __init__(self, policy: PolicyFn, delay_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.policy, self.delay_s, self.sleep = policy, delay_s, sleep
        self.calls = 0

    def __call__(self, observation: Observation) -> ActionChunk:
        self.calls += 1
        if self.delay_s > 0:
            self.sleep(self.delay_s)
        chunk = self.policy(observation)
        return ActionChunk(chunk.actions, chunk.inference_ms + 1000.0 * self.delay_s, chunk.info)
