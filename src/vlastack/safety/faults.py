"""Fault injection for measuring the safety layer: wrappers around an action stream or a policy callable.

Stream faults are callables ``fault(action | None, step) -> action | None`` applied to what an
executor hands the actuator (``step`` counts control steps from the start of the episode):

- :class:`ActionNoise`: Gaussian noise on every action.
- :class:`NaNBursts`: from time to time, a burst of actions made of NaN (or inf).
- :class:`ActionDropouts`: from time to time, a burst of steps with no action at all (None), as an
  executor whose inference has stalled would give; this is what the watchdog is for.

Policy faults wrap ``policy(observation) -> ActionChunk``:

- :class:`FaultyPolicy`: a stream fault applied to every action of every chunk.
- :class:`StalledPolicy`: selected calls take ``stall_s`` longer (sleeps, or advances a fake clock).
- :func:`stalled_latency`: the same stall as a latency schedule for the simulated async runner.

And a geometric fault: :func:`keep_out_across_path` puts a keep-out box across the usual path.
All randomness comes from a seeded ``numpy`` generator; ``reset`` restarts it for a new episode.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence

import numpy as np

from vlastack.errors import ConfigError
from vlastack.safety.spec import Box, SafetySpec
from vlastack.types import ActionChunk, Observation

StreamFault = Callable[[np.ndarray | None, int], np.ndarray | None]


class _Seeded:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the random stream (with a new seed if given)."""
        if seed is not None:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)


class ActionNoise(_Seeded):
    """Add N(0, sigma^2) noise (action units) to every entry, or to the entries in ``dims``."""

    def __init__(self, sigma: float, seed: int = 0, dims: Sequence[int] | None = None) -> None:
        if not sigma >= 0:
            raise ConfigError(f"ActionNoise sigma must be >= 0, got {sigma}")
        self.sigma, self.dims = sigma, None if dims is None else list(dims)
        super().__init__(seed)

    def __call__(self, action: np.ndarray | None, step: int) -> np.ndarray | None:
        if action is None:
            return None
        out = np.array(action, dtype=np.float32)
        idx = slice(None) if self.dims is None else self.dims
        out[idx] += self.rng.normal(0.0, self.sigma, size=out[idx].shape).astype(np.float32)
        return out


class _Bursts(_Seeded):
    """Bursts of ``length`` steps starting with probability ``rate`` at each step outside a burst."""

    def __init__(self, rate: float, length: int, seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0 or length < 1:
            raise ConfigError(f"{type(self).__name__} needs 0 <= rate <= 1 and length >= 1, got rate={rate}, length={length}")
        self.rate, self.length = rate, length
        super().__init__(seed)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._left = 0
        self.bursts = 0
        """Bursts started since the last reset."""

    def _in_burst(self) -> bool:
        if self._left == 0 and self.rng.random() < self.rate:
            self._left, self.bursts = self.length, self.bursts + 1
        if self._left > 0:
            self._left -= 1
            return True
        return False


class NaNBursts(_Bursts):
    """Replace whole actions by ``value`` (NaN by default; inf also allowed) during bursts."""

    def __init__(self, rate: float, length: int, seed: int = 0, value: float = float("nan")) -> None:
        self.value = value
        super().__init__(rate, length, seed)

    def __call__(self, action: np.ndarray | None, step: int) -> np.ndarray | None:
        if action is None or not self._in_burst():
            return action
        return np.full_like(np.asarray(action, dtype=np.float32), self.value)


class ActionDropouts(_Bursts):
    """No action at all (None) during bursts: a stalled executor as the actuator sees it."""

    def __call__(self, action: np.ndarray | None, step: int) -> np.ndarray | None:
        return None if self._in_burst() else action


class FaultyPolicy:
    """``policy`` with a stream fault applied to each action of each chunk (batch of one)."""

    def __init__(self, policy: Callable[[Observation], ActionChunk], fault: StreamFault) -> None:
        self.policy, self.fault, self._count = policy, fault, 0

    def __call__(self, observation: Observation) -> ActionChunk:
        chunk = self.policy(observation)
        actions = np.array(chunk.actions, dtype=np.float32)
        for i in range(actions.shape[1]):
            faulty = self.fault(actions[0, i], self._count)
            actions[0, i] = np.nan if faulty is None else faulty
            self._count += 1
        return ActionChunk(actions, chunk.inference_ms, dict(chunk.info))


class StalledPolicy:
    """``policy`` whose calls number ``calls`` (0-based), or every ``every``-th call, stall for ``stall_s``.

    The stall is ``sleep(stall_s)`` before the answer: ``time.sleep`` for real time, or a fake
    clock's ``advance`` in tests and simulated benchmarks. ``stalls`` counts the stalls so far.
    """

    def __init__(
        self,
        policy: Callable[[Observation], ActionChunk],
        stall_s: float,
        *,
        calls: Collection[int] = (),
        every: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if stall_s < 0 or (every is not None and every < 1):
            raise ConfigError(f"StalledPolicy needs stall_s >= 0 and every >= 1, got {stall_s}, {every}")
        self.policy, self.stall_s, self.calls, self.every, self.sleep = policy, stall_s, set(calls), every, sleep
        self._count, self.stalls = 0, 0

    def __call__(self, observation: Observation) -> ActionChunk:
        index, self._count = self._count, self._count + 1
        if index in self.calls or (self.every is not None and (index + 1) % self.every == 0):
            self.stalls += 1
            self.sleep(self.stall_s)
        return self.policy(observation)


def stalled_latency(base_s: float, stall_s: float, *, calls: Collection[int] = (), every: int | None = None) -> Callable[[int], float]:
    """A latency schedule (call index -> seconds) for the simulated async runner: ``base_s``, plus ``stall_s`` on stalled calls."""
    chosen = set(calls)

    def latency(index: int) -> float:
        stalled = index in chosen or (every is not None and (index + 1) % every == 0)
        return base_s + (stall_s if stalled else 0.0)

    return latency


def keep_out_across_path(
    start: Sequence[float], end: Sequence[float], *, thickness_m: float = 0.04, half_width_m: float = 0.15, name: str = "across path"
) -> Box:
    """A wall-like keep-out box across the straight path from ``start`` to ``end`` (metres).

    The box is centred on the midpoint, ``thickness_m`` thick along the axis the path moves most
    along, and ``2 * half_width_m`` wide on the other two. Both ends must lie outside it.
    """
    a, b = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    axis = int(np.argmax(np.abs(b - a)))
    half = np.full(3, half_width_m)
    half[axis] = thickness_m / 2
    mid = (a + b) / 2
    box = Box(low=tuple(mid - half), high=tuple(mid + half), name=name)
    if abs(b[axis] - a[axis]) / 2 <= half[axis]:
        raise ConfigError(
            f"keep_out_across_path: the path moves {abs(b[axis] - a[axis]):.3f} m along "
            f"{'xyz'[axis]}, too short for a {thickness_m} m thick box between its ends"
        )
    return box


def with_keep_out(spec: SafetySpec, *boxes: Box) -> SafetySpec:
    """``spec`` with ``boxes`` added to its keep-out zones."""
    return dataclasses.replace(spec, keep_out=tuple(spec.keep_out) + tuple(boxes))
