"""The asynchronous executor: request timing, latency compensation, the blended seam, stalls, errors.

Fake-clock tests use the simulated-latency runner (deterministic); one test runs the real
background thread to show the control loop never waits for inference.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.execution import AsyncExecutor, DelayedPolicy, FakeClock, SimulatedLatencyRunner, ThreadRunner
from vlastack.safety.faults import stalled_latency
from vlastack.types import ActionChunk, Observation

DT = 0.0125
OBS = Observation(images={}, state=np.zeros(4, np.float32), instruction="test")


class CodedPolicy:
    """Chunk c has value 100 * c + i at row i."""

    def __init__(self, horizon: int = 8) -> None:
        self.horizon, self.calls = horizon, 0

    def __call__(self, observation: Observation) -> ActionChunk:
        c, self.calls = self.calls, self.calls + 1
        return ActionChunk((100.0 * c + np.arange(self.horizon, dtype=np.float32))[None, :, None])


def run(ex: AsyncExecutor, clock: FakeClock, steps: int) -> list[float | None]:
    out = []
    for _ in range(steps):
        a = ex.step(OBS, clock())
        out.append(None if a is None else round(float(a[0]), 6))
        clock.advance(DT)
    return out


def kinds(ex: AsyncExecutor) -> list[str]:
    return [e["event"] for e in ex.events]


def test_zero_latency_requests_every_k_steps_and_switches_at_once_without_blending():
    clock = FakeClock()
    ex = AsyncExecutor(CodedPolicy(8), k=3, blend_steps=0, clock=clock, simulated_latency_s=0.0)
    assert run(ex, clock, 7) == [0, 1, 2, 100, 101, 102, 200]
    assert [e["step"] for e in ex.events if e["event"] == "chunk_requested"] == [0, 3, 6]


def test_default_interval_is_half_the_horizon():
    clock = FakeClock()
    ex = AsyncExecutor(CodedPolicy(8), blend_steps=0, clock=clock, simulated_latency_s=0.0)
    run(ex, clock, 9)
    assert [e["step"] for e in ex.events if e["event"] == "chunk_requested"] == [0, 4, 8]


def test_latency_drops_the_stale_actions_and_blends_the_seam():
    clock = FakeClock()
    # 30 ms latency = arrives on the 3rd step after the request (steps are 12.5 ms apart)
    ex = AsyncExecutor(CodedPolicy(8), k=4, blend_steps=2, clock=clock, simulated_latency_s=0.03)
    out = run(ex, clock, 12)
    assert out[:3] == [None, None, None]  # start-up: nothing to do until the first chunk
    assert out[3:7] == [3, 4, 5, 6]  # chunk 0 from row 3: rows 0-2 were for steps already past
    # chunk 1 asked at step 4 arrives at step 7; rows 3, 4 blend with chunk 0's plan (rows 7, then its last, 7)
    w1, w2 = 1 / 3, 2 / 3
    assert out[7] == pytest.approx((1 - w1) * 7 + w1 * 103, abs=1e-4)
    assert out[8] == pytest.approx((1 - w2) * 7 + w2 * 104, abs=1e-4)
    assert out[9] == 105
    received = [e for e in ex.events if e["event"] == "chunk_received"]
    assert [(e["step"], e["latency_steps"], e["dropped"], e["blended"]) for e in received[:2]] == [(3, 3, 3, 0), (7, 3, 3, 2)]
    assert received[1]["latency_s"] == pytest.approx(0.03)
    resumed = next(e for e in ex.events if e["event"] == "resumed")
    assert resumed["stalled_steps"] == 3 and resumed["duration_s"] == pytest.approx(3 * DT)


def test_inference_slower_than_a_chunk_runs_out_stalls_then_recovers():
    clock = FakeClock()
    latency = stalled_latency(0.0, 0.5, calls={1})  # the 2nd request takes half a second (40 steps)
    ex = AsyncExecutor(CodedPolicy(8), k=4, blend_steps=0, clock=clock, simulated_latency_s=latency, overdue_s=0.1)
    out = run(ex, clock, 60)
    assert out[:8] == [0, 1, 2, 3, 4, 5, 6, 7]  # keeps going on what remains of chunk 0
    assert all(a is None for a in out[8:44])  # then stalled: nothing fresh (the safety watchdog holds)
    stalled = next(e for e in ex.events if e["event"] == "stalled")
    assert stalled["step"] == 8 and stalled["startup"] is False and stalled["outstanding"] is True
    overdue = next(e for e in ex.events if e["event"] == "inference_overdue")
    assert overdue["waited_s"] > 0.1
    # the late chunk (asked at step 4, due at 4 * DT + 0.5 s -> step 44) has every action in the past: discarded
    discarded = next(e for e in ex.events if e["event"] == "chunk_discarded")
    assert discarded["step"] == 44 and discarded["latency_steps"] == 40
    assert out[44] == 200  # asked again at once, zero latency, followed from its first row
    resumed = next(e for e in ex.events if e["event"] == "resumed")
    assert resumed["stalled_steps"] == 36 and ex.summary()["stalled_s"] == pytest.approx(36 * DT)


def test_late_but_usable_chunk_is_used_from_the_right_row():
    clock = FakeClock()
    latency = stalled_latency(0.02, 0.08, calls={1})  # 2 steps, and 8 steps for the 2nd request
    ex = AsyncExecutor(CodedPolicy(12), k=6, blend_steps=0, clock=clock, simulated_latency_s=latency)
    out = run(ex, clock, 17)
    assert out[:14] == [None, None, *range(2, 12), None, None]
    assert out[14:16] == [108, 109]  # asked at step 6, arrived at step 14: from row 8
    assert out[16] == 202  # the next one, asked at step 14 (already due), arrived at step 16


def test_on_stall_repeat_repeats_the_last_action():
    clock = FakeClock()
    ex = AsyncExecutor(
        CodedPolicy(4), k=2, blend_steps=0, clock=clock, on_stall="repeat", simulated_latency_s=stalled_latency(0.0, 0.1, calls={1})
    )
    out = run(ex, clock, 6)
    assert out == [0, 1, 2, 3, 3, 3]


def test_inference_error_is_reported_and_asked_again():
    clock, calls = FakeClock(), {"n": 0}

    def flaky(obs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("CUDA error")
        return ActionChunk(np.ones((1, 4, 1), np.float32))

    ex = AsyncExecutor(flaky, k=2, clock=clock, simulated_latency_s=0.0)
    assert run(ex, clock, 2) == [None, 1.0]  # retried on the next step, not in a tight loop
    assert kinds(ex)[:2] == ["chunk_requested", "inference_error"]
    assert [e["step"] for e in ex.events if e["event"] == "chunk_requested"] == [0, 1]


def test_reset_ignores_an_answer_from_the_previous_episode():
    clock, policy = FakeClock(), CodedPolicy(8)
    ex = AsyncExecutor(policy, k=4, blend_steps=0, clock=clock, simulated_latency_s=0.02)
    run(ex, clock, 1)  # request 0 outstanding
    ex.reset()
    out = run(ex, clock, 4)
    assert out == [None, None, 102, 103]  # chunk 1 (asked after the reset), never chunk 0


def test_bad_options_are_rejected():
    for kwargs in ({"k": 0}, {"blend_steps": -1}, {"on_stall": "panic"}, {"runner": object(), "simulated_latency_s": 0.1}):
        with pytest.raises(ConfigError):
            AsyncExecutor(CodedPolicy(), **kwargs)


def test_on_a_fake_clock_the_default_latency_is_the_measured_compute_time():
    clock = FakeClock()
    ex = AsyncExecutor(DelayedPolicy(CodedPolicy(8), 0.03), k=4, blend_steps=0, clock=clock)  # really sleeps 30 ms
    assert isinstance(ex.runner, SimulatedLatencyRunner)
    out = run(ex, clock, 40)
    received = next(e for e in ex.events if e["event"] == "chunk_received")
    assert received["latency_s"] >= 0.03 and received["step"] >= 3  # 30 ms of compute = at least 3 steps of 12.5 ms
    assert received["step"] == received["latency_steps"] and out[: received["step"]] == [None] * received["step"]
    assert out[received["step"]] == received["step"]  # the row for that step, the stale ones dropped


class GatedPolicy:
    """A policy that, on a real thread, stays inside its call until the test opens the gate."""

    def __init__(self, horizon: int = 40) -> None:
        import threading

        self.inner, self.entered, self.gate, self.inside = CodedPolicy(horizon), threading.Event(), threading.Event(), False

    def __call__(self, observation: Observation) -> ActionChunk:
        self.inside = True
        self.entered.set()
        self.gate.wait(timeout=30)  # a safety net only: the test opens the gate
        self.inside = False
        return self.inner(observation)


def test_real_background_thread_keeps_the_control_loop_running():
    # No timing: the policy is held inside its first call while the loop steps; a blocking
    # executor could not return from step() at all until the gate opens.
    policy = GatedPolicy(40)
    ex = AsyncExecutor(policy, k=10, blend_steps=3, runner=ThreadRunner(policy, time.monotonic))
    try:
        out = [ex.step(OBS)]
        assert policy.entered.wait(timeout=10), "the background thread never called the policy"
        while_inside = []
        for _ in range(20):
            out.append(ex.step(OBS))
            while_inside.append(policy.inside)
        assert all(while_inside) and out == [None] * 21  # 20 steps returned while inference was still running
        policy.gate.set()
        for _ in range(10_000):  # until the chunk is collected (bounded; each step also sleeps a little)
            if (action := ex.step(OBS)) is not None:
                break
            time.sleep(0.001)
    finally:
        policy.gate.set()
        ex.close()
    assert action is not None
    received = next(e for e in ex.events if e["event"] == "chunk_received")
    assert received["latency_steps"] >= 20 and received["dropped"] == received["latency_steps"]
    assert float(action[0]) == received["latency_steps"]  # the row for the step it arrived at


def test_dropped_executors_do_not_leave_threads_behind():
    import gc
    import threading

    for _ in range(5):
        ex = AsyncExecutor(CodedPolicy(8), k=4)  # default: a background thread
        ex.step(OBS)
        del ex
    gc.collect()
    deadline = time.monotonic() + 2.0
    while any(t.name == "vlastack-inference" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "vlastack-inference" for t in threading.enumerate())


class PrefixRecorder(CodedPolicy):
    """CodedPolicy that records the real-time-chunking prefix it was given."""

    def __init__(self, horizon: int = 8) -> None:
        super().__init__(horizon)
        self.prefixes: list[tuple[np.ndarray, np.ndarray] | None] = []

    def __call__(self, observation: Observation, prefix_actions=None, prefix_weights=None) -> ActionChunk:
        self.prefixes.append(None if prefix_actions is None else (prefix_actions.copy(), prefix_weights.copy()))
        return super().__call__(observation)


def test_rtc_sends_the_committed_plan_with_firm_weights_for_the_latency_and_does_not_cross_fade():
    clock, policy = FakeClock(), PrefixRecorder(horizon=8)
    ex = AsyncExecutor(policy, k=4, blend_steps=3, clock=clock, simulated_latency_s=2 * DT, rtc=True)
    out = run(ex, clock, 12)
    assert policy.prefixes[0] is None  # nothing committed before the first chunk
    actions, weights = policy.prefixes[2]  # asked at step 8; chunk 1 (asked at step 4, 2 steps late) runs from step 6
    assert actions[:, 0].tolist() == [104.0, 105.0, 106.0, 107.0]
    assert weights[:2].tolist() == [1.0, 1.0] and np.all(np.diff(weights[1:]) < 0) and 0 < weights[-1] < 1
    assert out[6:10] == [102.0, 103.0, 104.0, 105.0] and out[10] == 202.0  # the new chunk is followed at once: no blend


def test_rtc_must_be_a_bool():
    with pytest.raises(ConfigError, match="rtc"):
        AsyncExecutor(CodedPolicy(), clock=FakeClock(), simulated_latency_s=0.0, rtc="yes")
