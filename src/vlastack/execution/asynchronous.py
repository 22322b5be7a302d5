"""Asynchronous execution: the next chunk is computed in the background while the current one runs.

In the spirit of SmolVLA's asynchronous inference (arXiv 2506.01844) and real-time chunking
(Black et al., arXiv 2506.07339), simplified to a cross-fade:

1. Every ``k`` steps (and at the start) the executor sends the current observation to a runner
   (a background thread in real time; simulated latency on a :class:`FakeClock`) and goes on
   executing the current chunk; at most one request is outstanding.
2. A chunk asked at step s holds the actions for steps s, s+1, ... When it arrives at step t, its
   first ``t - s`` actions are already in the past and are dropped (latency compensation).
3. Across the seam the old plan and the new chunk are blended for ``blend_steps`` steps::

       a_{t+j} = (1 - w_j) * old_{t+j} + w_j * new_{t+j},   w_j = (j + 1) / (blend_steps + 1)

   so the first executed action is still mostly the old plan, and after the window only the new
   chunk is followed. Where the old plan has already run out, its last action stands in for it
   (what the arm was last told to do). ``blend_steps = 0`` switches at once.
With ``rtc`` (real-time chunking, Black et al.), the request also carries the actions of the
   current plan from the request's step on: they will run while the policy thinks, so the new chunk
   should agree with them. The policy inpaints its chunk towards them (weight 1 for the steps the
   last measured latency says will have run before the chunk arrives, then falling linearly to 0
   over ``blend_steps`` steps), and the seam is not cross-faded: the chunk already fits.
4. Inference slower than expected: the executor keeps going on the remaining actions of the old
   chunk; once they are used up it is *stalled* and returns None (or, with ``on_stall="repeat"``,
   the last action again), and says so in its events; the safety layer's watchdog turns a long
   stall into a hold. A chunk that arrives after all its actions are in the past is discarded and
   a new one is asked for at once; a failed inference, or a chunk whose shape or dtype differs
   from the episode's first (``chunk_rejected``), is reported and asked again. So the chunk
   horizon must exceed the latency in steps for any of it to be used (SmolVLA: 50 steps).

Events: ``chunk_requested``, ``chunk_received`` (with latency in steps and seconds, how many
actions were dropped and blended), ``chunk_discarded``, ``chunk_rejected``, ``inference_error``, ``inference_overdue``
(outstanding longer than ``overdue_s``), ``stalled`` and ``resumed`` (with the stall's duration).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from vlastack.errors import ConfigError
from vlastack.execution import base
from vlastack.execution.base import EXECUTORS, Clock, Executor, PolicyFn
from vlastack.execution.clock import FakeClock
from vlastack.execution.runners import MEASURED, InferenceResult, InferenceRunner, SimulatedLatencyRunner, ThreadRunner
from vlastack.types import Action, Observation

ON_STALL = ("none", "repeat")


@EXECUTORS.register("async")
class AsyncExecutor(Executor):
    """Background inference with latency compensation and a blended seam.

    ``k``: steps between requests (default: half the horizon of the first chunk).
    ``blend_steps``: length of the cross-fade at each seam.
    ``runner``: where inference runs. Default: a :class:`ThreadRunner` with a real clock; with a
    :class:`FakeClock` (simulation), a :class:`SimulatedLatencyRunner` whose latency is
    ``simulated_latency_s`` if given, else each call's measured wall time (``"measured"``), so that
    simulated time sees the true compute time and no real thread races the simulation.
    ``on_stall``: ``"none"`` returns None while stalled, ``"repeat"`` repeats the last action.
    ``overdue_s``: report a request outstanding longer than this (None: never).
    ``rtc``: real-time chunking; the policy must accept ``prefix_actions=`` [P, D] and
    ``prefix_weights=`` [P] keyword arguments (the flow policies do).
    """

    name = "async"

    def __init__(
        self,
        policy: PolicyFn,
        k: int | None = None,
        blend_steps: int = 4,
        *,
        clock: Clock = time.monotonic,
        runner: InferenceRunner | None = None,
        simulated_latency_s: float | str | Callable[[int], float] | None = None,
        on_stall: str = "none",
        overdue_s: float | None = None,
        rtc: bool = False,
    ) -> None:
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ConfigError(f"async executor: k must be a positive integer or None, got {k!r}")
        if isinstance(blend_steps, bool) or not isinstance(blend_steps, int) or blend_steps < 0:
            raise ConfigError(f"async executor: blend_steps must be a non-negative integer, got {blend_steps!r}")
        if on_stall not in ON_STALL:
            raise ConfigError(f"async executor: on_stall must be one of {ON_STALL}, got {on_stall!r}")
        if runner is not None and simulated_latency_s is not None:
            raise ConfigError("async executor: give either runner or simulated_latency_s, not both")
        if runner is None and simulated_latency_s is None and isinstance(clock, FakeClock):
            simulated_latency_s = MEASURED
        if runner is None:
            runner = (
                ThreadRunner(policy, clock) if simulated_latency_s is None else SimulatedLatencyRunner(policy, clock, simulated_latency_s)
            )
        if not isinstance(rtc, bool):
            raise ConfigError(f"async executor: rtc must be true or false, got {rtc!r}")
        self.k, self.blend_steps, self.on_stall, self.overdue_s, self.rtc = k, blend_steps, on_stall, overdue_s, rtc
        self.runner = runner
        self._next_id = 0
        super().__init__(policy, clock=clock)

    def _reset(self) -> None:
        self._plan: list[np.ndarray] = []  # actions for steps plan_start, plan_start + 1, ...
        self._plan_start = 0
        self._outstanding: tuple[int, int, float] | None = None  # (request id, step, submitted_s)
        self._overdue_reported = False
        self._last_request_step: int | None = None
        self._ask_now = True
        self._interval: int | None = self.k
        self._last: np.ndarray | None = None
        self._stalled_since: tuple[int, float] | None = None
        self._latency_steps = 0  # the last chunk's latency in control steps (for rtc's weights)

    def close(self) -> None:
        self.runner.close()

    def _step(self, observation: Observation, now_s: float) -> Action | None:
        t = self.step_index
        self._collect(t)
        if self._outstanding is None and self._due(t):
            self._submit(observation, t)
            self._collect(t)  # a runner with no latency answers at once
        self._check_overdue(now_s)
        i = t - self._plan_start
        action = self._plan[i] if 0 <= i < len(self._plan) else None
        if action is None:
            if self._stalled_since is None:
                self._stalled_since = (t, now_s)
                self._emit(base.STALLED, startup=self._last is None, outstanding=self._outstanding is not None)
            return self._last.copy() if self.on_stall == "repeat" and self._last is not None else None
        if self._stalled_since is not None:
            steps, since = t - self._stalled_since[0], self._stalled_since[1]
            self._emit(base.RESUMED, duration_s=now_s - since, stalled_steps=steps)
            self._stalled_since = None
        self._last = action
        return action.copy()

    def _due(self, t: int) -> bool:
        if self._ask_now or self._last_request_step is None:
            return True
        return self._interval is not None and t - self._last_request_step >= self._interval

    def _submit(self, observation: Observation, t: int) -> None:
        request_id, self._next_id = self._next_id, self._next_id + 1
        self._outstanding = (request_id, t, self.clock())
        self._overdue_reported, self._ask_now, self._last_request_step = False, False, t
        self._emit(base.CHUNK_REQUESTED, request_id=request_id)
        prefix = self._prefix(t) if self.rtc else None
        if prefix is None:
            self.runner.submit(request_id, t, observation)
        else:
            self.runner.submit(request_id, t, observation, prefix)

    def _prefix(self, t: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The current plan from step ``t`` on, and how firmly the next chunk must keep to it."""
        i = t - self._plan_start
        if not 0 <= i < len(self._plan):
            return None
        committed = np.stack(self._plan[i:]).astype(np.float32)
        n, d = len(committed), min(self._latency_steps, len(committed))
        # 1 for the steps that surely run before the chunk arrives; then down to 0 over blend_steps
        # steps, so that the rest of the chunk is the policy's own, fresh plan.
        weights = np.clip(1.0 - (np.arange(n) - d + 1) / (self.blend_steps + 1), 0.0, 1.0).astype(np.float32)
        return committed, weights

    def _check_overdue(self, now_s: float) -> None:
        if self._outstanding is None or self.overdue_s is None or self._overdue_reported:
            return
        waited = now_s - self._outstanding[2]
        if waited > self.overdue_s:
            self._overdue_reported = True
            self._emit(base.INFERENCE_OVERDUE, request_id=self._outstanding[0], waited_s=waited, overdue_s=self.overdue_s)

    def _collect(self, t: int) -> None:
        for result in self.runner.poll():
            if self._outstanding is None or result.request_id != self._outstanding[0]:
                continue  # from before a reset: not ours any more
            self._outstanding = None
            self._integrate(result, t)

    def _integrate(self, result: InferenceResult, t: int) -> None:
        if result.actions is None:
            self._ask_now = True
            self._emit(base.INFERENCE_ERROR, request_id=result.request_id, error=result.error)
            return
        actions = self._accept(result.actions, request_id=result.request_id)
        if actions is None:
            self._ask_now = True  # as after a failure: a usable chunk is wanted at once
            return
        horizon, late = len(actions), t - result.step
        if self._interval is None:
            self._interval = max(1, horizon // 2)
        latency = dict(
            request_id=result.request_id,
            latency_steps=late,
            latency_s=result.finished_s - result.submitted_s,
            inference_ms=result.inference_ms,
            horizon=horizon,
        )
        if late >= horizon:
            self._ask_now = True
            self._emit(base.CHUNK_DISCARDED, reason="every action is already in the past", **latency)
            return
        self._latency_steps = late
        new = actions[late:].astype(np.float64)
        i = t - self._plan_start
        old = self._plan[max(i, 0) :] if i < len(self._plan) else []
        tail = old[-1] if old else self._last
        blended = 0 if tail is None or self.rtc else min(self.blend_steps, len(new))
        for j in range(blended):
            w = (j + 1) / (self.blend_steps + 1)
            before = old[j] if j < len(old) else tail
            new[j] = (1.0 - w) * before + w * new[j]
        self._plan, self._plan_start = list(new.astype(np.float32)), t
        self._emit(base.CHUNK_RECEIVED, dropped=late, used=len(new), blended=blended, **latency)
