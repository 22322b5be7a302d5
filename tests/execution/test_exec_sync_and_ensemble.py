"""Synchronous and temporal-ensembling executors, timed with a fake clock."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.execution import EXECUTORS, DelayedPolicy, FakeClock, SynchronousExecutor, TemporalEnsembleExecutor, make_executor
from vlastack.types import ActionChunk, Observation

DT = 0.0125
OBS = Observation(images={}, state=np.zeros(4, np.float32), instruction="test")


class CodedPolicy:
    """Chunk number c (0, 1, ...) holds action value 100 * c + i at row i, in every one of D entries."""

    def __init__(self, horizon: int = 5, dim: int = 2, constant: bool = False) -> None:
        self.horizon, self.dim, self.constant, self.calls = horizon, dim, constant, 0

    def __call__(self, observation: Observation) -> ActionChunk:
        c, self.calls = self.calls, self.calls + 1
        rows = np.full(self.horizon, float(c)) if self.constant else 100.0 * c + np.arange(self.horizon)
        return ActionChunk(np.repeat(rows[None, :, None], self.dim, axis=2).astype(np.float32))


def run(executor, clock: FakeClock, steps: int) -> list[float | None]:
    out = []
    for _ in range(steps):
        a = executor.step(OBS, clock())
        out.append(None if a is None else float(a[0]))
        clock.advance(DT)
    return out


def test_sync_executes_the_first_k_actions_then_asks_again():
    clock, policy = FakeClock(), CodedPolicy(horizon=5)
    ex = SynchronousExecutor(policy, k=3, clock=clock)
    assert run(ex, clock, 7) == [0, 1, 2, 100, 101, 102, 200]
    assert [e["step"] for e in ex.events if e["event"] == "chunk_requested"] == [0, 3, 6]
    assert all(e["used"] == 3 for e in ex.events if e["event"] == "chunk_received")


def test_sync_whole_chunk_by_default_and_k_longer_than_the_chunk_uses_it_all():
    clock = FakeClock()
    assert run(SynchronousExecutor(CodedPolicy(horizon=3), clock=clock), clock, 4) == [0, 1, 2, 100]
    assert run(SynchronousExecutor(CodedPolicy(horizon=3), k=10, clock=clock), clock, 4) == [0, 1, 2, 100]


def test_sync_inference_delay_blocks_the_loop_and_is_timed():
    clock = FakeClock()
    policy = DelayedPolicy(CodedPolicy(horizon=4), 0.2, sleep=clock.advance)
    ex = SynchronousExecutor(policy, k=2, clock=clock)
    run(ex, clock, 6)  # 3 chunks, each 0.2 s of inference during which no step happens
    assert clock() == pytest.approx(6 * DT + 3 * 0.2)
    received = [e for e in ex.events if e["event"] == "chunk_received"]
    assert [e["latency_s"] for e in received] == pytest.approx([0.2] * 3)
    assert [e["time_s"] for e in received] == pytest.approx([0.2, 2 * DT + 0.4, 4 * DT + 0.6])
    assert received[0]["inference_ms"] == pytest.approx(200.0)


def test_sync_a_failing_policy_gives_no_action_and_is_retried():
    clock, state = FakeClock(), {"n": 0}

    def flaky(obs):
        state["n"] += 1
        if state["n"] == 1:
            raise RuntimeError("GPU fell over")
        return ActionChunk(np.ones((1, 2, 1), np.float32))

    ex = SynchronousExecutor(flaky, k=2, clock=clock)
    assert run(ex, clock, 3) == [None, 1.0, 1.0]
    assert ex.events[1]["event"] == "inference_error" and "GPU fell over" in ex.events[1]["error"]


def test_sync_rejects_a_batch_of_two_and_bad_k():
    ex = SynchronousExecutor(lambda obs: ActionChunk(np.zeros((2, 3, 4), np.float32)), clock=FakeClock())
    assert ex.step(OBS, 0.0) is None and "shape" in ex.events[-1]["error"]
    for k in (0, -1, 1.5, True):
        with pytest.raises(ConfigError):
            SynchronousExecutor(CodedPolicy(), k=k)


@pytest.mark.parametrize("m", [0.5, 0.01, 0.0, -0.5])
def test_ensemble_weights_exp_minus_m_i_with_i_zero_the_oldest(m):
    clock, policy = FakeClock(), CodedPolicy(horizon=4, constant=True)  # chunk c predicts c everywhere
    ex = TemporalEnsembleExecutor(policy, m=m, clock=clock)
    out = run(ex, clock, 8)
    for t, value in enumerate(out):
        ages = np.arange(max(0, t - 3), t + 1)  # chunks still covering step t, oldest first
        w = np.exp(-m * np.arange(len(ages)))
        assert value == pytest.approx(float((w * ages).sum() / w.sum()), rel=1e-6)
    mean = np.arange(4, 8).mean()
    if m > 0:
        assert out[7] < mean  # older predictions (smaller c) weigh more: ACT's choice
    elif m < 0:
        assert out[7] > mean


def test_ensemble_query_every_and_the_number_of_predictions():
    clock, policy = FakeClock(), CodedPolicy(horizon=4)
    ex = TemporalEnsembleExecutor(policy, m=0.0, query_every=2, clock=clock)
    out = run(ex, clock, 6)
    assert policy.calls == 3
    assert [e["n"] for e in ex.events if e["event"] == "ensembled"] == [1, 1, 2, 2, 2, 2]
    assert out[2] == pytest.approx((2 + 100) / 2)  # chunk 0 row 2 and chunk 1 row 0


def test_ensemble_pays_the_inference_delay_every_query():
    clock = FakeClock()
    ex = TemporalEnsembleExecutor(DelayedPolicy(CodedPolicy(horizon=4), 0.05, sleep=clock.advance), clock=clock)
    run(ex, clock, 10)
    assert clock() == pytest.approx(10 * (DT + 0.05))


def test_ensemble_chunk_shorter_than_the_query_period_gives_nothing_and_is_reported():
    clock = FakeClock()
    ex = TemporalEnsembleExecutor(CodedPolicy(horizon=2), query_every=3, clock=clock)
    assert run(ex, clock, 4) == [None, None, None, None]  # never crashes the loop; the safety layer holds
    rejected = [e for e in ex.events if e["event"] == "chunk_rejected"]
    assert [e["step"] for e in rejected] == [0, 3] and "shorter than the 3 actions" in rejected[0]["reason"]
    assert ex.summary()["problems"] == rejected


def test_reset_forgets_the_episode():
    clock, policy = FakeClock(), CodedPolicy(horizon=5)
    ex = SynchronousExecutor(policy, k=3, clock=clock)
    run(ex, clock, 2)
    ex.reset()
    assert ex.events == [] and ex.step_index == 0
    assert run(ex, clock, 1) == [100]  # asks again at once


def test_executors_are_found_by_name():
    assert set(EXECUTORS.names()) == {"sync", "ensemble", "async"}
    ex = make_executor("sync", CodedPolicy(), k=2, clock=FakeClock())
    assert isinstance(ex, SynchronousExecutor) and ex.k == 2
    with pytest.raises(ConfigError, match="Did you mean 'async'"):
        make_executor("asnc", CodedPolicy())
