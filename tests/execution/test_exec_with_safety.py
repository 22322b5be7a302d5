"""Executors behind the safety layer: policy -> executor -> SafeActuator -> a stand-in environment."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.execution import DelayedPolicy, FakeClock, executor_act, make_executor
from vlastack.safety import METAWORLD_SAWYER, SAFETY_INFO_KEY, SafeActuator
from vlastack.safety.faults import FaultyPolicy, NaNBursts, stalled_latency
from vlastack.types import ActionChunk, Observation

DT = METAWORLD_SAWYER.control_period_s


class PointEnv:
    """The end effector moves by the commanded delta (1 cm per unit), like Meta-World's mocap."""

    def __init__(self) -> None:
        self.pos = np.array([0.0, 0.6, 0.2])
        self.received: list[np.ndarray] = []

    def _obs(self) -> Observation:
        return Observation(images={}, state=np.r_[self.pos, 1.0].astype(np.float32), instruction="reach")

    def reset(self, seed=None):
        self.pos, self.received = np.array([0.0, 0.6, 0.2]), []
        return self._obs(), {}

    def step(self, action):
        self.received.append(np.array(action))
        self.pos = self.pos + action[:3].astype(np.float64) * 0.01
        return self._obs(), 0.0, False, False, {"success": False}


def towards(goal):
    """A chunking policy: 10 steps of a saturated P-controller towards ``goal``."""

    def policy(obs: Observation) -> ActionChunk:
        delta = np.clip((np.asarray(goal) - obs.state[:3]) * 10, -1, 1)
        return ActionChunk(np.tile(np.r_[delta, -1.0], (1, 10, 1)).astype(np.float32))

    return policy


def loop(executor, clock, steps=80):
    env = PointEnv()
    actuator = SafeActuator(env, METAWORLD_SAWYER, clock=clock)
    obs, info = actuator.reset()
    executor.reset()
    act = executor_act(executor, clock, advance_s=DT)
    decisions = []
    for _ in range(steps):
        obs, _, _, _, info = actuator.step(act(obs, info))
        decisions.append(info[SAFETY_INFO_KEY])
    return env, decisions


@pytest.mark.parametrize("name, options", [("sync", {"k": 5}), ("ensemble", {}), ("async", {"simulated_latency_s": 0.05})])
def test_each_executor_reaches_the_goal_through_the_layer(name, options):
    clock = FakeClock()
    env, _ = loop(make_executor(name, towards([0.1, 0.7, 0.15]), clock=clock, **options), clock)
    assert np.linalg.norm(env.pos - [0.1, 0.7, 0.15]) < 0.01


def test_sync_inference_delay_costs_time_not_steps():
    clock = FakeClock()
    policy = DelayedPolicy(towards([0.1, 0.7, 0.15]), 0.2, sleep=clock.advance)
    loop(make_executor("sync", policy, k=10, clock=clock), clock, steps=40)
    assert clock() == pytest.approx(40 * DT + 4 * 0.2)


def test_nan_bursts_never_reach_the_env():
    clock = FakeClock()
    policy = FaultyPolicy(towards([0.1, 0.7, 0.15]), NaNBursts(rate=0.2, length=3, seed=0))
    env, decisions = loop(make_executor("sync", policy, k=5, clock=clock), clock)
    assert all(np.all(np.isfinite(a)) for a in env.received)
    assert any(i["limit"] == "action.finite" for d in decisions for i in d["interventions"])


def test_stalled_async_inference_is_held_by_the_watchdog():
    clock = FakeClock()
    latency = stalled_latency(0.0, 0.5, calls={2})  # the third request takes 0.5 s: 40 steps
    executor = make_executor("async", towards([0.2, 0.9, 0.15]), k=5, clock=clock, simulated_latency_s=latency)
    env, decisions = loop(executor, clock, steps=60)
    effects = [d["interventions"][0]["effect"] if d["interventions"] else None for d in decisions]
    assert "repeated" in effects and "held" in effects  # first bridged, then held past the deadline
    held = [i for i, e in enumerate(effects) if e == "held"]
    assert all(np.all(env.received[i][:3] == 0) for i in held)
    assert any(e["event"] == "stalled" for e in executor.events)
