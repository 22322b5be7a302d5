"""Where the asynchronous executor's inference runs: a background thread, or simulated latency.

A runner takes one request at a time (``submit``) and hands finished results back through
``poll``, which never blocks. The executor never waits on a runner.

- :class:`ThreadRunner`: the policy runs in a daemon thread; requests go in through a queue and
  results come back through a lock-protected list (the only state both threads touch). PyTorch
  releases the GIL inside its kernels, so a model's forward pass overlaps the control loop.
- :class:`SimulatedLatencyRunner`: the policy runs at once, on the caller's thread, but its result
  is released only when the (fake) clock has passed ``submitted + latency``. Deterministic: this is
  how tests and simulated-delay benchmarks run the async executor against a :class:`FakeClock`.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vlastack.execution.base import Clock, PolicyFn, checked_actions, chunk_inference_ms
from vlastack.types import Observation


@dataclass(frozen=True)
class InferenceResult:
    """One answered request."""

    request_id: int
    """The id given to ``submit``."""
    step: int
    """Control step whose observation the request used; action i of the chunk is meant for step + i."""
    submitted_s: float
    finished_s: float
    actions: np.ndarray | None
    """[H, D] in the dtype the policy gave (checked: floating point, H, D >= 1), or None when it failed."""
    inference_ms: float = 0.0
    """What the chunk itself reported."""
    error: str | None = None
    """``Type: message`` of the exception when the policy failed."""


class InferenceRunner(Protocol):
    def submit(self, request_id: int, step: int, observation: Observation, prefix: Prefix | None = None) -> None: ...

    def poll(self) -> list[InferenceResult]: ...

    def close(self) -> None: ...


#: Actions already committed for the chunk's first steps and how firmly ([P, D], [P]): passed to the
#: policy as ``prefix_actions=`` / ``prefix_weights=`` (real-time chunking); None: a plain call.
Prefix = tuple[np.ndarray, np.ndarray]


def _run(policy: PolicyFn, observation: Observation, prefix: Prefix | None = None) -> tuple[np.ndarray | None, float, str | None]:
    try:
        if prefix is None:
            chunk = policy(observation)
        else:
            chunk = policy(observation, prefix_actions=prefix[0], prefix_weights=prefix[1])  # type: ignore[call-arg]
        return checked_actions(chunk), chunk_inference_ms(chunk), None
    except Exception as e:  # reported to the executor as a failed request, never raised in the control loop
        return None, 0.0, f"{type(e).__name__}: {e}"


class ThreadRunner:
    """Run the policy in one background daemon thread (started on the first request).

    The thread holds no reference to the runner, so a runner that is dropped without ``close``
    (an executor per episode) is garbage-collected and its thread told to stop: no threads pile up.
    """

    def __init__(self, policy: PolicyFn, clock: Clock) -> None:
        self.policy, self.clock = policy, clock
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._done: list[InferenceResult] = []
        self._thread: threading.Thread | None = None

    def submit(self, request_id: int, step: int, observation: Observation, prefix: Prefix | None = None) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=_work, args=(self.policy, self.clock, self._jobs, self._lock, self._done), name="vlastack-inference", daemon=True
            )
            self._thread.start()
            weakref.finalize(self, self._jobs.put, None)
        self._jobs.put((request_id, step, observation, self.clock(), prefix))

    def poll(self) -> list[InferenceResult]:
        with self._lock:
            done = self._done[:]
            self._done.clear()  # the same list object is shared with the thread
        return done

    def close(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout_s)
            self._thread = None


def _work(policy: PolicyFn, clock: Clock, jobs: queue.Queue, lock: threading.Lock, done: list[InferenceResult]) -> None:
    """The background thread: answer requests until a None arrives."""
    while (job := jobs.get()) is not None:
        request_id, step, observation, submitted, prefix = job
        actions, inference_ms, error = _run(policy, observation, prefix)
        result = InferenceResult(request_id, step, submitted, clock(), actions, inference_ms, error)
        with lock:
            done.append(result)


#: ``latency_s`` value of :class:`SimulatedLatencyRunner`: each request takes as long, in simulated
#: time, as the policy call really took (wall clock).
MEASURED = "measured"


class SimulatedLatencyRunner:
    """Answer each request ``latency_s`` seconds (of ``clock``) after it was submitted.

    ``latency_s`` is a number, a function of the request's index (0, 1, ...) in this runner's
    life (e.g. :func:`vlastack.safety.faults.stalled_latency` to make some requests stall), or
    ``"measured"``: the real wall-clock duration of the call, so that a simulation on a fake clock
    sees the policy's true compute time without a real thread.
    """

    def __init__(self, policy: PolicyFn, clock: Clock, latency_s: float | str | Callable[[int], float]) -> None:
        if isinstance(latency_s, str) and latency_s != MEASURED:
            raise ValueError(f"latency_s must be seconds, a function or {MEASURED!r}, got {latency_s!r}")
        self.policy, self.clock = policy, clock
        self.latency = latency_s if callable(latency_s) or latency_s == MEASURED else (lambda _i, s=float(latency_s): s)
        self._pending: list[tuple[float, InferenceResult]] = []
        self._count = 0

    def submit(self, request_id: int, step: int, observation: Observation, prefix: Prefix | None = None) -> None:
        now = self.clock()
        wall = time.perf_counter()
        actions, inference_ms, error = _run(self.policy, observation, prefix)
        latency = time.perf_counter() - wall if self.latency == MEASURED else float(self.latency(self._count))
        if not latency >= 0:
            raise ValueError(f"simulated latency must be >= 0, got {latency}")
        self._count += 1
        due = now + latency
        self._pending.append((due, InferenceResult(request_id, step, now, due, actions, inference_ms, error)))

    def poll(self) -> list[InferenceResult]:
        now = self.clock()
        ready = [r for due, r in self._pending if due <= now + 1e-9]
        self._pending = [(due, r) for due, r in self._pending if due > now + 1e-9]
        return ready

    def close(self) -> None:
        self._pending = []
