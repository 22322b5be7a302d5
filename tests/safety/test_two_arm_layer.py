"""The two-arm layer (no simulator): each arm's own limits on its slice, the mutual keep-out between the
hands, world-frame handling of turned arms, and the errors of a bad two-arm spec."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from vlastack.safety import SafeActuator, TwoArmSafetyLayer, make_layer
from vlastack.safety.presets_robosuite import ROBOSUITE_ARM_SPECS
from vlastack.safety.presets_robosuite_two_arm import HANDOVER_SPACE, TWO_ARM_SPECS, two_arm_spec
from vlastack.safety.spec import SpecError
from vlastack.safety.two_arm_spec import MutualKeepOut, TwoArmSpec

SCALE_M = 0.05  # robosuite: metres of controller goal per action unit
PANDA = dataclasses.replace(ROBOSUITE_ARM_SPECS["panda"], workspace=HANDOVER_SPACE)


def _state(p0, p1) -> np.ndarray:
    """Joint state of two robosuite arms: hand x, y, z (world m), quaternion x, y, z, w, opening; per arm."""
    arm = lambda p: [*p, 0.0, 1.0, 0.0, 0.0, 1.0]  # noqa: E731
    return np.array(arm(p0) + arm(p1), dtype=np.float32)


def _action(t0=(0, 0, 0), t1=(0, 0, 0), grip=(-1.0, -1.0)) -> np.ndarray:
    return np.array([*t0, 0, 0, 0, grip[0], *t1, 0, 0, 0, grip[1]], dtype=np.float32)


def _spec(min_distance_m=0.06, yaws=(0.0, 0.0)) -> TwoArmSpec:
    spec = two_arm_spec("test_two_arm", (PANDA, PANDA), min_distance_m)
    arms = tuple(dataclasses.replace(a, command_yaw_rad=y) for a, y in zip(spec.arms, yaws))
    return dataclasses.replace(spec, arms=arms)


def _goal_distance(state: np.ndarray, action: np.ndarray) -> float:
    """Distance (m) between the two controller goals, hand plus 5 cm per unit, for world-aligned commands."""
    g0 = state[0:3] + SCALE_M * action[0:3]
    g1 = state[8:11] + SCALE_M * action[7:10]
    return float(np.linalg.norm(g1 - g0))


def test_an_approaching_command_is_cut_to_half_the_slack_and_explained():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.05, 1.0), (0.0, 0.05, 1.0))  # 0.10 m apart along y: 0.04 m slack, 0.02 m each
    d = layer.filter(_action((0, 1.0, 0), (0, -1.0, 0)), state, np.zeros(12))
    np.testing.assert_allclose(d.action[[1, 8]], [0.4, -0.4], atol=1e-5)  # 0.02 m of goal each
    assert _goal_distance(state, d.action) == pytest.approx(0.06, abs=1e-6)
    keep = [r for r in d.interventions if r.check == "mutual_keep_out"]
    assert [r.limit for r in keep] == ["arm0.keep_out.min_distance_m", "arm1.keep_out.min_distance_m"]
    assert keep[0].message.startswith("arm 0:") and "approaches arm 1 by 0.0500 m" in keep[0].message
    assert keep[0].value == pytest.approx(0.05) and keep[0].bound == pytest.approx(0.02) and keep[0].unit == "m"
    assert layer.summary()["by_check"]["mutual_keep_out"] == 2 and layer.log[0]["interventions"]


def test_sideways_motion_is_kept_while_the_approach_is_removed():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.05, 1.0), (0.0, 0.05, 1.0))
    d = layer.filter(_action((0.5, 0.5, 0), (0, 0, 0)), state, np.zeros(12))
    np.testing.assert_allclose(d.action[:3], [0.5, 0.4, 0.0], atol=1e-5)  # x untouched, y cut to 0.02 m
    assert np.all(d.action[7:14] == _action()[7:14])


def test_a_separating_command_is_left_alone():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.04, 1.0), (0.0, 0.04, 1.0))
    proposed = _action((0.3, -0.6, 0.2), (0.0, 0.7, -0.1), grip=(1.0, -1.0))
    d = layer.filter(proposed, state, np.zeros(12))
    assert not d.interventions and not d.held
    np.testing.assert_array_equal(d.action, proposed)


def test_inside_the_keep_out_only_separating_motion_passes():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.02, 1.0), (0.0, 0.02, 1.0))  # 0.04 m apart: inside 0.06
    d = layer.filter(_action((0, 0.5, 0), (0, 0.5, 0)), state, np.zeros(12))
    assert d.action[1] == pytest.approx(0.0, abs=1e-6)  # arm 0 moving towards arm 1: stopped
    assert d.action[8] == pytest.approx(0.5, abs=1e-6)  # arm 1 moving away: passes
    assert _goal_distance(state, d.action) >= 0.04


def test_each_arms_own_limits_apply_to_its_slice_only():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.3, 1.0), (0.0, 0.3, 0.82))  # arm 1 just above the table top (z 0.80)
    d = layer.filter(_action((0, 0, -0.5), (0, 0, -0.5)), state, np.zeros(12))
    assert d.action[2] == pytest.approx(-0.5)  # arm 0 is high enough
    assert d.action[9] == pytest.approx(-(0.82 - HANDOVER_SPACE.low[2]) / SCALE_M, abs=1e-3)
    assert [r.limit for r in d.interventions] == ["arm1.workspace.low[2]"]
    nan = _action((0.2, 0, 0), (0.2, 0, 0))
    nan[10] = np.nan  # a broken rotation entry in arm 1's half
    d = layer.filter(nan, state, np.zeros(12))
    assert d.action[0] == pytest.approx(0.2) and d.action[7] == 0.0 and d.held
    assert {r.limit for r in d.interventions} == {"arm1.action.finite"}


def test_an_overloaded_wrist_backs_off_that_arms_gripper_only():
    layer = TwoArmSafetyLayer(_spec(0.06))
    state = _state((0.0, -0.3, 1.0), (0.0, 0.3, 1.0))
    layer.filter(_action(grip=(1.0, 1.0)), state, np.zeros(12))
    touch = np.zeros(12)
    touch[8] = PANDA.gripper.max_force_n + 10.0  # arm 1's wrist force along z, N
    d = layer.filter(_action(grip=(1.0, 1.0)), state, touch)
    assert d.action[6] == 1.0 and d.action[13] == pytest.approx(1.0 - PANDA.gripper.backoff_per_n * 10.0)


def test_the_keep_out_works_in_the_world_frame_for_arms_turned_like_the_opposed_layout():
    # Commands in each base's frame (robosuite's own convention): arm 0's base is turned +90 degrees, so its
    # +x is world +y, towards arm 1; arm 1's is turned -90 degrees, so its +x is world -y, towards arm 0.
    state = _state((0.0, -0.05, 1.0), (0.0, 0.05, 1.0))
    turned = TwoArmSafetyLayer(_spec(0.06, yaws=(math.pi / 2, -math.pi / 2)))
    d = turned.filter(_action((1.0, 0, 0), (1.0, 0, 0)), state, np.zeros(12))
    np.testing.assert_allclose(d.action[[0, 1, 7, 8]], [0.4, 0.0, 0.4, 0.0], atol=1e-5)  # back in each base's frame
    assert sum(r.check == "mutual_keep_out" for r in d.interventions) == 2
    # The same numbers, read as world-aligned commands, move both hands along world x: sideways, no change.
    aligned = TwoArmSafetyLayer(_spec(0.06))
    assert not aligned.filter(_action((1.0, 0, 0), (1.0, 0, 0)), state, np.zeros(12)).interventions
    # And each arm's workspace is judged in the world frame too: arm 0's base -x is world -y.
    edge = _state((0.0, HANDOVER_SPACE.low[1] + 0.01, 1.0), (0.0, 0.3, 1.0))
    d = turned.filter(_action((-1.0, 0, 0)), edge, np.zeros(12))
    assert d.action[0] == pytest.approx(-0.2, abs=1e-3) and d.interventions[0].limit == "arm0.workspace.low[1]"


def test_random_commands_never_bring_the_goals_inside_the_keep_out():
    rng = np.random.default_rng(0)
    layer = TwoArmSafetyLayer(_spec(0.08))
    for _ in range(200):
        layer.reset()
        p0 = rng.uniform((-0.3, -0.3, 0.85), (0.3, 0.0, 1.2))
        p1 = p0 + rng.normal(size=3) * 0.06
        state = _state(p0, p1)
        d = layer.filter(rng.uniform(-1, 1, 14).astype(np.float32), state, np.zeros(12))
        before = float(np.linalg.norm(p1 - p0))
        assert _goal_distance(state, d.action) >= min(0.08, before) - 1e-6


@pytest.mark.parametrize("size", [13, 7])  # 7: one arm's worth, which each arm's own check would accept
def test_a_joint_action_of_the_wrong_size_holds_both_arms(size):
    layer = TwoArmSafetyLayer(_spec())
    proposed = np.full(size, 0.5)
    d = layer.filter(proposed, _state((0, -0.3, 1.0), (0, 0.3, 1.0)), np.zeros(12))
    assert d.held and d.interventions[0].check == "two_arm" and "expected (14,)" in d.interventions[0].message
    assert np.all(d.action[[0, 1, 2, 7, 8, 9]] == 0.0)


def test_an_unreadable_other_hand_holds_a_moving_arm():
    layer = TwoArmSafetyLayer(_spec())
    state = _state((0, -0.3, 1.0), (np.nan, 0.3, 1.0))
    d = layer.filter(_action((0.5, 0, 0)), state, np.zeros(12))
    assert d.action[0] == 0.0 and d.held
    assert any(r.limit == "arm0.keep_out.min_distance_m" and "arm 1" in r.message for r in d.interventions)


def test_bad_two_arm_specs_name_the_field():
    good = _spec()
    with pytest.raises(SpecError, match="min_distance_m") as e:
        MutualKeepOut(min_distance_m=-0.1)
    assert e.value.field == "min_distance_m"
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good.arms[0], command_yaw_rad=0.3)
    assert e.value.field == "command_yaw_rad"
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good.arms[0], action_slice=(0, 6))
    assert e.value.field == "action_slice" and "needs 7 entries" in str(e.value)
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good, arms=(good.arms[0], dataclasses.replace(good.arms[1], action_slice=(3, 10))))
    assert e.value.field == "arms[1].action_slice"
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good, arms=(good.arms[0],))
    assert e.value.field == "arms"
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good, action_dim=15)
    assert e.value.field == "action_dim"
    slow = dataclasses.replace(PANDA, control_period_s=0.1)
    with pytest.raises(SpecError) as e:
        dataclasses.replace(good, arms=(good.arms[0], dataclasses.replace(good.arms[1], spec=slow)))
    assert e.value.field == "arms[1].spec.control_period_s"


def test_presets_are_built_by_name_and_an_actuator_takes_them():
    assert set(TWO_ARM_SPECS) == {"rs-twoarmlift-panda", "rs-handover-panda"}
    for spec in TWO_ARM_SPECS.values():
        assert isinstance(make_layer(spec.name), TwoArmSafetyLayer) and spec.action_dim == 14
        assert all(a.spec.stop_within_limits for a in spec.arms)  # what lets the keep-out's scaling keep each arm's limits
    assert TWO_ARM_SPECS["rs-twoarmlift-panda"].arms[0].spec == ROBOSUITE_ARM_SPECS["panda"]  # the make's own, unchanged
    assert not isinstance(make_layer("robosuite_panda"), TwoArmSafetyLayer)

    class Env:
        config = None

        def reset(self, seed=None):
            return type("Obs", (), {"state": _state((0, -0.05, 1.0), (0, 0.05, 1.0)), "touch": np.zeros(12)})(), {}

        def step(self, action):
            self.sent = action
            return self.reset()[0], 0.0, False, False, {}

    env = Env()
    act = SafeActuator(env, "robosuite_handover_panda")
    act.reset(seed=0)
    _, _, _, _, info = act.step(_action((0, 1.0, 0)))
    assert env.sent[1] == pytest.approx(0.4, abs=1e-5) and info["safety"]["interventions"][0]["check"] == "mutual_keep_out"
