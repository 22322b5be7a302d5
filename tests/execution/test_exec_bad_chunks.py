"""Executors never crash the control loop: whatever a policy returns or raises, a step gives an
action of the episode's shape or None, and every refused chunk is in the executor's report.

Property tests (hypothesis) drive sync, ensemble and async executors with a policy that, call by
call, returns a good chunk, a chunk of another horizon, action size or dtype, a malformed one, or
raises.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlastack.execution import AsyncExecutor, FakeClock, SynchronousExecutor, TemporalEnsembleExecutor
from vlastack.types import ActionChunk, Observation

DT = 0.0125
OBS = Observation(images={}, state=np.zeros(4, np.float32), instruction="test")
H, D = 6, 3  # the shape of the good chunks


def good(value: float = 1.0) -> ActionChunk:
    return ActionChunk(np.full((1, H, D), value, np.float32))


#: One policy answer: ("ok",), ("shape", batch, horizon, dim), ("dtype", name), ("raise", exception), ("junk", value).
answers = st.one_of(
    st.just(("ok",)),
    st.tuples(st.just("shape"), st.integers(0, 2), st.integers(0, 9), st.integers(0, 5)),
    st.tuples(st.just("dtype"), st.sampled_from(["float64", "float16", "int64", "bool", "complex64", "object"])),
    st.tuples(
        st.just("raise"),
        st.sampled_from(
            [RuntimeError("CUDA error"), ValueError("bad"), KeyError("x"), ZeroDivisionError(), MemoryError(), AttributeError("gone")]
        ),
    ),
    st.tuples(st.just("junk"), st.sampled_from([None, 3.0, "actions", [[1, 2], [3]], object()])),
)


class ScriptedPolicy:
    """Answers call i with ``script[i]`` (a good chunk once the script runs out)."""

    def __init__(self, script: list[tuple]) -> None:
        self.script, self.calls = script, 0

    def __call__(self, observation: Observation) -> ActionChunk:
        kind, *args = self.script[self.calls] if self.calls < len(self.script) else ("ok",)
        self.calls += 1
        if kind == "ok":
            return good(float(self.calls))
        if kind == "shape":
            b, h, d = args
            return ActionChunk(np.ones((b, h, d), np.float32))
        if kind == "dtype":
            return ActionChunk(np.ones((1, H, D), dtype=args[0]))
        if kind == "raise":
            raise args[0]
        return ActionChunk(args[0]) if args[0] is not None else None  # junk where the actions belong


def executors(policy):
    clock = FakeClock()
    return clock, [
        SynchronousExecutor(policy, k=2, clock=clock),
        TemporalEnsembleExecutor(policy, query_every=2, clock=clock),
        AsyncExecutor(policy, k=2, blend_steps=2, clock=clock, simulated_latency_s=0.02),
    ]


def expected_problems(answers: list[tuple], min_horizon: int) -> int:
    """How many of ``answers`` (in the order received) an executor must refuse.

    Malformed answers and exceptions always; of the well-formed ones, any shorter than
    ``min_horizon``, and any whose (horizon, action size, dtype) differs from the first accepted one.
    """
    shape, n = None, 0
    for kind, *args in answers:
        if kind == "ok":
            this = (H, D, "float32")
        elif kind == "shape" and args[0] == 1 and args[1] >= 1 and args[2] >= 1:
            this = (args[1], args[2], "float32")
        elif kind == "dtype" and args[0] in ("float64", "float32", "float16"):
            this = (H, D, args[0])
        else:
            n += 1  # raised, junk, a batch other than 1, an empty axis, a dtype that is not floating
            continue
        if this[0] < min_horizon or (shape is not None and this != shape):
            n += 1
        elif shape is None:
            shape = this
    return n


@pytest.mark.parametrize("which", ["sync", "ensemble", "async"])
@settings(max_examples=60, deadline=None)
@given(script=st.lists(answers, min_size=1, max_size=12), first_ok=st.booleans())
def test_no_answer_crashes_a_step_and_refusals_are_reported(which, script, first_ok):
    if first_ok:
        script = [("ok",), *script]  # the episode's shape is set by a good chunk, then things go wrong
    policy = ScriptedPolicy(script)
    clock, exs = executors(policy)
    ex = {"sync": exs[0], "ensemble": exs[1], "async": exs[2]}[which]
    shape = None
    try:
        for _ in range(40):
            action = ex.step(OBS, clock())  # must never raise
            if action is not None:
                assert action.dtype == np.float32 and action.ndim == 1 and np.all(np.isfinite(action))
                shape = shape or action.shape
                assert action.shape == shape, "an action of another size got through"
            clock.advance(DT)
    finally:
        ex.close()
    report = ex.summary()
    counts = report["events"]
    problems = counts.get("chunk_rejected", 0) + counts.get("inference_error", 0)
    # answers the executor has seen (the async one may still have one in flight when the loop ends)
    seen = problems + counts.get("chunk_received", 0) + counts.get("chunk_discarded", 0)
    received = [script[i] if i < len(script) else ("ok",) for i in range(seen)]
    # every bad answer the executor received became a problem; a good one never does
    assert problems == expected_problems(received, 2 if which == "ensemble" else 1), report
    assert "executor_error" not in report["events"], report  # nothing slipped past the checks
    assert report["problems"] == [e for e in ex.events if e["event"] in ("chunk_rejected", "inference_error")][-20:]


@pytest.mark.parametrize("which", ["sync", "ensemble", "async"])
def test_a_chunk_of_another_action_size_mid_episode_is_refused_then_recovered(which):
    script = [("ok",), ("shape", 1, H, D + 1), ("dtype", "float64"), ("shape", 1, H - 1, D)]
    policy = ScriptedPolicy(script)
    clock, exs = executors(policy)
    ex = {"sync": exs[0], "ensemble": exs[1], "async": exs[2]}[which]
    out = []
    for _ in range(30):
        out.append(ex.step(OBS, clock()))
        clock.advance(DT)
    ex.close()
    rejected = [e for e in ex.events if e["event"] == "chunk_rejected"]
    assert [(e["horizon"], e["action_dim"], e["dtype"]) for e in rejected] == [
        (H, D + 1, "float32"),
        (H, D, "float64"),
        (H - 1, D, "float32"),
    ]
    assert all("changed mid-episode" in e["reason"] for e in rejected)
    assert all(a is None or a.shape == (D,) for a in out)
    assert out[-1] is not None and out[-1].shape == (D,)  # good chunks are used again afterwards


def test_reset_lets_the_next_episode_use_another_shape():
    policy = ScriptedPolicy([("ok",), ("shape", 1, 4, 2), ("shape", 1, 4, 2)])
    ex = SynchronousExecutor(policy, clock=FakeClock())
    for _ in range(H):
        assert ex.step(OBS).shape == (D,)
    assert ex.step(OBS) is None and ex.events[-1]["event"] == "chunk_rejected"
    ex.reset()
    assert ex.step(OBS).shape == (2,)  # a new episode: its first chunk sets the shape


def test_a_bug_inside_the_executor_is_reported_not_raised():
    ex = SynchronousExecutor(lambda obs: good(), clock=FakeClock())

    def broken(observation, now_s):
        raise IndexError("deque index out of range")

    ex._step = broken
    assert ex.step(OBS) is None
    assert ex.summary()["problems"][-1]["event"] == "executor_error"
    assert "IndexError" in ex.summary()["problems"][-1]["error"]


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(obs):
        raise KeyboardInterrupt

    ex = SynchronousExecutor(interrupted, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt):
        ex.step(OBS)
