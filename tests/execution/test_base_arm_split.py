"""The base-arm split (execution/base_arm_split.py) and its layer under a policy (execution/base_arm_layer.py):
no simulator; the wheeled robot's state and action layouts come from envs/robosuite_env.feature_names."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlastack.envs.robosuite_env import feature_names
from vlastack.errors import ConfigError
from vlastack.execution.base_arm_layer import BaseArmLayer, WheeledMotionModel
from vlastack.execution.base_arm_split import SplitLimits, base_rotation, split_step
from vlastack.types import Observation

LIMITS = SplitLimits()
LO, HI = np.asarray(LIMITS.reach_lo_m), np.asarray(LIMITS.reach_hi_m)
MIDDLE = (LO + HI) / 2  # a hand well inside the box

metres = st.floats(-0.05, 0.05)
inside = st.tuples(*(st.floats(lo, hi) for lo, hi in zip(LIMITS.reach_lo_m, LIMITS.reach_hi_m)))


@settings(max_examples=200, deadline=None)
@given(st.tuples(metres, metres, metres), inside, st.floats(-np.pi, np.pi))
def test_limits_are_respected_whatever_is_asked(desired, hand, yaw):
    s = split_step(desired, hand, yaw, LIMITS)
    arm_base = base_rotation(yaw).T @ s.arm_m  # the arm's motion in the base frame, where its limits are per axis
    assert np.all(np.abs(arm_base) <= LIMITS.arm_step_m + 1e-9)
    assert np.all(np.abs(s.base_m) <= LIMITS.base_step_m + 1e-9)
    new_hand = np.asarray(hand) + arm_base
    assert np.all(new_hand >= LO - 1e-9) and np.all(new_hand <= HI + 1e-9)  # a hand inside the box stays inside
    planned = s.arm_m + base_rotation(yaw) @ np.array([*s.base_m, 0.0])
    np.testing.assert_allclose(planned + s.residual_m, desired, atol=1e-9)  # residual is exactly what was left out


@settings(max_examples=200, deadline=None)
@given(st.tuples(metres, metres, metres), st.tuples(*(st.floats(lo - 0.05, hi + 0.05) for lo, hi in zip(LO, HI))))
def test_the_solver_matches_the_closed_form_of_the_box_problem(desired, hand):
    # With a box and yaw 0 the problem separates by axis: the arm goes as far as its bounds let it, the base takes
    # the rest shrunk by 1 / (1 + base_weight), within its own limit.
    s = split_step(desired, hand, 0.0, LIMITS)
    d, h, a_step = np.asarray(desired), np.asarray(hand), LIMITS.arm_step_m
    arm = np.clip(d, np.clip(LO - h, -a_step, a_step), np.clip(HI - h, -a_step, a_step))
    base = np.clip((d - arm)[:2] / (1 + LIMITS.base_weight), -LIMITS.base_step_m, LIMITS.base_step_m)
    np.testing.assert_allclose(s.arm_m, arm, atol=1e-9)
    np.testing.assert_allclose(s.base_m, base, atol=1e-9)


def test_the_arm_does_everything_while_the_target_is_in_reach():
    desired = np.array([0.01, -0.008, 0.005])
    for yaw in (0.0, 1.0, -2.5):
        s = split_step(desired, MIDDLE, yaw, LIMITS)
        np.testing.assert_allclose(s.arm_m, desired, atol=1e-12)
        assert np.all(np.abs(s.base_m) < 1e-12) and not s.reach_limited
        np.testing.assert_allclose(s.residual_m, 0.0, atol=1e-12)


def test_the_base_moves_when_the_hand_would_leave_its_reach():
    at_front = MIDDLE.copy()
    at_front[0] = HI[0]  # hand at the front of its box
    s = split_step([0.01, 0.0, 0.0], at_front, 0.0, LIMITS)
    assert s.reach_limited and abs(s.arm_m[0]) < 1e-12
    assert s.base_m[0] == pytest.approx(0.01 / (1 + LIMITS.base_weight)) and abs(s.base_m[1]) < 1e-12
    # The base faces world +y (yaw 90 degrees): world +y is its forward, so a reach along world +y drives it forward.
    s = split_step([0.0, 0.01, 0.0], at_front, np.pi / 2, LIMITS)
    assert s.base_m[0] == pytest.approx(0.01 / (1 + LIMITS.base_weight)) and abs(s.base_m[1]) < 1e-12
    # Sideways: a hand at the left wall and a move further left goes to the base's sideways motion, the rest to the arm.
    at_left = MIDDLE.copy()
    at_left[1] = HI[1]
    s = split_step([0.004, 0.01, 0.0], at_left, 0.0, LIMITS)
    assert s.arm_m[0] == pytest.approx(0.004) and abs(s.base_m[0]) < 1e-12 and s.base_m[1] > 0.0099
    # Past the base's limit the rest is left over, and a base with limit 0 does nothing at all.
    s = split_step([0.03, 0.0, 0.0], at_front, 0.0, LIMITS)
    assert s.base_m[0] == pytest.approx(LIMITS.base_step_m) and s.residual_m[0] == pytest.approx(0.03 - LIMITS.base_step_m)
    locked = split_step([0.01, 0.0, 0.0], at_front, 0.0, SplitLimits(base_step_m=0.0))
    assert np.all(np.abs(locked.base_m) < 1e-9) and locked.residual_m[0] == pytest.approx(0.01)


def test_a_hand_outside_its_reach_is_brought_back_no_faster_than_the_arm_moves():
    beyond = MIDDLE.copy()
    beyond[0] = HI[0] + 0.1
    s = split_step([0.0, 0.0, 0.0], beyond, 0.0, LIMITS)
    assert s.arm_m[0] == pytest.approx(-LIMITS.arm_step_m)


def test_bad_inputs_name_the_field():
    with pytest.raises(ConfigError, match="desired_m must be 3 finite numbers"):
        split_step([0.0, 0.0], MIDDLE, 0.0, LIMITS)
    with pytest.raises(ConfigError, match="hand_rel_m must be 3 finite numbers"):
        split_step([0.0, 0.0, 0.0], [np.nan, 0.0, 0.0], 0.0, LIMITS)
    with pytest.raises(ConfigError, match="yaw_rad"):
        split_step([0.0, 0.0, 0.0], MIDDLE, float("inf"), LIMITS)
    for field, value, words in (
        ("reach_lo_m", (0.8, -0.3, -0.15), "reach_lo_m must be below reach_hi_m"),
        ("reach_hi_m", (0.7, 0.3), "reach_hi_m must be 3 finite numbers"),
        ("arm_step_m", 0.0, "arm_step_m must be a positive"),
        ("base_step_m", -0.01, "base_step_m must be a number of metres >= 0"),
        ("base_weight", 0.0, "base_weight must be > 0"),
    ):
        with pytest.raises(ConfigError, match=words):
            SplitLimits(**{field: value})
    with pytest.raises(ConfigError, match="base_deadband must be in"):
        WheeledMotionModel(base_deadband=1.5)
    with pytest.raises(ConfigError, match="arm_m_per_unit must be a positive"):
        WheeledMotionModel(arm_m_per_unit=-0.01)
    with pytest.raises(ConfigError, match=r"names\['state'\] lacks \['mount_x'"):
        BaseArmLayer(lambda o, i: np.zeros(7), feature_names("rs-lift-panda"))


def test_the_motion_model_inverts_the_measured_speeds():
    m = WheeledMotionModel()
    # Measured (benchmarks/pandaomron_reach.py): 0.5 drives 12.5 mm a step, 1.0 drives 37.2 mm, 0.3 drives 2.5 mm.
    np.testing.assert_allclose(m.base_command(np.array([0.0125, -0.0375, 0.0025])), [0.5, -1.0, 0.3], atol=1e-3)
    assert np.all(m.base_command(np.array([0.0, 1e-7])) == 0.0)
    np.testing.assert_allclose(m.arm_command(np.array([0.013, -0.0065, 1.0])), [1.0, -0.5, 1.0])


def test_the_layer_drives_the_base_when_the_policy_reaches_past_the_arm():
    names = feature_names("rs-reachfar-pandaomron")
    state = np.zeros(len(names["state"]), np.float32)
    mount = np.array([-0.9, 0.3, 0.9])
    state[names["state"].index("mount_x") : names["state"].index("mount_x") + 3] = mount
    state[:3] = mount + (HI[0], 0.0, 0.0)  # hand at the front of its box (to float32 rounding), the base facing +x
    policy = np.zeros(len(names["action"]), np.float32)
    policy[[0, 6, 10]] = (1.0, 1.0, 0.3)  # full speed ahead, gripper closing, a torso command
    layer = BaseArmLayer(lambda o, i: policy, names)
    obs = Observation(images={}, state=state, instruction="lift the red cube off the table")
    out = layer(obs, {"step": 0})
    a = dict(zip(names["action"], out))
    assert abs(a["dx"]) < 1e-3 and a["base_forward"] == pytest.approx(0.5, abs=0.01) and a["base_side"] == 0.0
    assert a["grip"] == 1.0 and a["torso"] == pytest.approx(0.3)  # passed through
    assert layer.reach_limited_steps == 1 and layer.base_travel_m == pytest.approx(LIMITS.base_step_m)
    state[:3] = mount + MIDDLE  # in reach: the arm alone, the base still
    a = dict(zip(names["action"], layer(obs, {"step": 1})))
    assert a["dx"] == pytest.approx(1.0) and a["base_forward"] == 0.0 and layer.reach_limited_steps == 1


def test_the_layer_passes_nothing_fresh_through_uncounted():
    # An executor with no action this step returns None; the safety layer's watchdog, not the split, handles it.
    names = feature_names("rs-reachfar-pandaomron")
    layer = BaseArmLayer(lambda o, i: None, names)
    obs = Observation(images={}, state=np.zeros(len(names["state"]), np.float32), instruction="lift the red cube off the table")
    assert layer(obs, {"step": 0}) is None and layer.steps == 0 and layer.base_travel_m == 0.0
