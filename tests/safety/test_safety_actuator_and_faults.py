"""SafeActuator: the environment only ever receives filtered actions. Fault injection wrappers."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.execution import FakeClock
from vlastack.safety import METAWORLD_SAWYER, SAFETY_INFO_KEY, SafeActuator
from vlastack.safety.faults import (
    ActionDropouts,
    ActionNoise,
    FaultyPolicy,
    NaNBursts,
    StalledPolicy,
    keep_out_across_path,
    stalled_latency,
    with_keep_out,
)
from vlastack.types import ActionChunk, Observation


class RecordingEnv:
    """A stand-in for a vlastack env: the end effector moves by the commanded delta."""

    def __init__(self) -> None:
        self.received: list[np.ndarray] = []
        self.pos = np.array([0.0, 0.6, 0.2])

    def _obs(self) -> Observation:
        return Observation(
            images={}, state=np.r_[self.pos, 1.0].astype(np.float32), instruction="reach", touch=np.zeros(2, dtype=np.float32)
        )

    def reset(self, seed=None):
        self.pos = np.array([0.0, 0.6, 0.2])
        return self._obs(), {"seed": seed}

    def step(self, action):
        self.received.append(np.array(action))
        self.pos = self.pos + np.asarray(action[:3], dtype=np.float64) * 0.01
        return self._obs(), 0.0, False, False, {"success": False}


def test_the_env_only_receives_filtered_finite_actions_and_info_has_the_reasons():
    env = RecordingEnv()
    actuator = SafeActuator(env, METAWORLD_SAWYER)
    actuator.reset(seed=3)
    proposals = [
        np.array([0.2, 0, 0, 0], np.float32),
        np.array([np.nan] * 4, np.float32),
        None,
        np.array([0, 0, -1, 0], np.float32),
        "junk",
    ]
    for i, p in enumerate(proposals):
        _, _, _, _, info = actuator.step(p, i * 0.0125)
        assert SAFETY_INFO_KEY in info and info["success"] is False
    assert len(env.received) == len(proposals)
    assert all(np.all(np.isfinite(a)) and a.dtype == np.float32 for a in env.received)
    assert actuator.summary()["steps_held"] >= 2
    actuator.reset()
    assert actuator.log == []


def test_the_actuator_judges_by_the_state_it_sensed_itself():
    env = RecordingEnv()
    actuator = SafeActuator(lambda: env, METAWORLD_SAWYER)  # a factory: no one else holds the env
    actuator.reset()
    for i in range(40):  # drive down into the floor: the layer stops at the workspace floor (z = 0.045)
        actuator.step(np.array([0, 0, -1, 0], np.float32), i * 0.0125)
    assert env.pos[2] >= METAWORLD_SAWYER.workspace.low[2] - 1e-9
    assert not hasattr(actuator, "env") and not hasattr(actuator, "_env")


def test_an_actuator_whose_clock_is_frozen_sends_no_motion():
    env = RecordingEnv()
    actuator = SafeActuator(env, METAWORLD_SAWYER, clock=lambda: 7.0)  # a clock stuck at 7 s
    actuator.reset()
    infos = [actuator.step(np.array([0.4, 0.0, 0.0, 0.0], np.float32))[4] for _ in range(5)]
    assert np.array_equal(env.received[0][:3], np.float32([0.4, 0.0, 0.0]))  # the first step has nothing to compare with
    assert all(np.all(a[:3] == 0) for a in env.received[1:])
    assert all(i[SAFETY_INFO_KEY]["held"] and i[SAFETY_INFO_KEY]["interventions"][0]["limit"] == "clock" for i in infos[1:])


def test_action_noise_is_seeded_and_resettable():
    noise = ActionNoise(0.1, seed=4)
    a = [noise(np.zeros(4, np.float32), i) for i in range(3)]
    noise.reset()
    b = [noise(np.zeros(4, np.float32), i) for i in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and np.std(np.concatenate(a)) > 0
    assert noise(None, 0) is None


def test_nan_bursts_and_dropouts_come_in_bursts_of_the_given_length():
    bursts = NaNBursts(rate=0.05, length=4, seed=1)
    out = [bursts(np.ones(4, np.float32), i) for i in range(400)]
    bad = np.array([np.all(np.isnan(a)) for a in out])
    assert bursts.bursts > 0 and bad.sum() == 4 * bursts.bursts
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, bad.astype(int), 0])))[::2]
    assert np.all(runs % 4 == 0)
    drops = ActionDropouts(rate=1.0, length=2, seed=0)
    assert drops(np.ones(4), 0) is None
    with pytest.raises(ConfigError):
        NaNBursts(rate=2.0, length=1)


def test_faulty_policy_applies_the_fault_to_every_action_in_the_chunk():
    policy = FaultyPolicy(lambda obs: ActionChunk(np.zeros((1, 5, 4), np.float32)), NaNBursts(rate=1.0, length=100))
    assert np.all(np.isnan(policy(None).actions))


def test_stalled_policy_advances_a_fake_clock_on_chosen_calls():
    clock = FakeClock()
    policy = StalledPolicy(lambda obs: ActionChunk(np.zeros((1, 2, 4), np.float32)), 0.5, calls={1}, sleep=clock.advance)
    policy(None)
    assert clock() == 0.0
    policy(None)
    assert clock() == 0.5 and policy.stalls == 1
    latency = stalled_latency(0.05, 1.0, every=3)
    assert [latency(i) for i in range(4)] == [0.05, 0.05, 1.05, 0.05]


def test_keep_out_across_path_blocks_the_straight_line_but_not_the_ends():
    start, end = np.array([0.0, 0.6, 0.2]), np.array([0.05, 0.85, 0.1])
    box = keep_out_across_path(start, end, thickness_m=0.04, half_width_m=0.1, name="person")
    lo, hi = np.array(box.low), np.array(box.high)
    mid = (start + end) / 2
    assert np.all(lo <= mid) and np.all(mid <= hi)
    assert not (np.all(lo <= start) and np.all(start <= hi)) and not (np.all(lo <= end) and np.all(end <= hi))
    assert hi[1] - lo[1] == pytest.approx(0.04)  # thin along y, the axis the path moves most along
    assert with_keep_out(METAWORLD_SAWYER, box).keep_out == (box,)
    with pytest.raises(ConfigError, match="too short"):
        keep_out_across_path(start, start + 0.01)
