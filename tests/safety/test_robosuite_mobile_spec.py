"""The wheeled PandaOmron's safety spec (robosuite_pandaomron): shipped JSON, fit to the wheeled tasks' 11-entry
action, the default of collection and evaluation, the base bound (clipped and explained), the base-arm layer's
commands inside it, and a short expert episode behind it."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from tests.conftest import need_robosuite
from vlastack import embodiments as E
from vlastack.safety import SafetyLayer, load_spec, spec_from_dict
from vlastack.safety.presets_robosuite_mobile import BASE_MAX, BASE_SPEED_M_S, TORSO_MAX, WHEELED_LIFT, YAW_MAX

WHEELED = ("rs-lift-pandaomron", "rs-reachfar-pandaomron")


def test_shipped_json_matches_the_preset_and_fits_the_wheeled_tasks(tmp_path):
    from vlastack.envs.collect import CollectConfig, check_spec_fits, default_safety_spec, without_safety_spec

    spec = load_spec("robosuite_pandaomron")
    text = resources.files("vlastack.safety").joinpath("specs/robosuite_pandaomron.json").read_text()
    assert spec_from_dict(json.loads(text)) == spec and spec.stop_within_limits
    emb = E.get("robosuite_pandaomron")
    assert emb.safety_spec == spec.name and spec.action.dim == emb.native_dim == 11
    assert spec.action.translation_dims == emb.translation_dims and spec.gripper.action_index == emb.gripper_dim
    assert spec.control_period_s == emb.control_period_s
    for task in WHEELED:
        assert default_safety_spec(task) == "robosuite_pandaomron"
        assert check_spec_fits(task, "robosuite_pandaomron", hint="") == spec
    assert without_safety_spec(list(WHEELED)) == []
    config = CollectConfig(tasks=WHEELED, episodes=1, out=tmp_path)  # the default: each robot's own spec
    assert [config.spec_for(t) for t in WHEELED] == ["robosuite_pandaomron"] * 2 and config.safety_label == "robosuite_pandaomron"
    # The base entries' bound is the stated speed: 0.05 m a step per unit beyond the 0.25 deadband, at 20 Hz.
    assert spec.action.high[7:] == (BASE_MAX, BASE_MAX, YAW_MAX, TORSO_MAX) and spec.action.low[7:] == (
        -BASE_MAX,
        -BASE_MAX,
        -YAW_MAX,
        -TORSO_MAX,
    )
    assert BASE_SPEED_M_S == pytest.approx(0.25)
    # The far task's start (hand at about x -0.52, y 0.38) is inside the box; the table top is its floor.
    assert WHEELED_LIFT.low[0] < -0.52 - 0.1 and WHEELED_LIFT.high[1] > 0.38 + 0.1 and WHEELED_LIFT.low[2] == 0.8


def _state(hand=(0.0, 0.0, 1.0), mount=(-0.56, 0.0, 0.9), yaw=0.0) -> np.ndarray:
    """A PandaOmron state: hand xyz, quaternion x, y, z, w, gripper opening, mount xyz, mount yaw."""
    return np.array([*hand, 0.0, 1.0, 0.0, 0.0, 1.0, *mount, yaw], dtype=np.float32)


def test_an_over_fast_base_command_is_clipped_to_the_bound_and_explained():
    layer = SafetyLayer("robosuite_pandaomron")
    action = np.zeros(11, np.float32)
    layer.filter(action, _state(), np.zeros(6))
    action[7], action[8], action[9], action[10] = 1.0, -0.8, 0.6, -1.0  # full forward: 0.75 m/s, past the 0.25 m/s bound
    decision = layer.filter(action, _state(), np.zeros(6))
    np.testing.assert_allclose(decision.action[7:], [BASE_MAX, -BASE_MAX, YAW_MAX, -TORSO_MAX], atol=1e-7)  # float32, inside
    np.testing.assert_array_equal(decision.action[:7], 0.0)
    assert not decision.held
    by_limit = {i.limit: i for i in decision.interventions}
    assert set(by_limit) == {"action.high[7]", "action.low[8]", "action.high[9]", "action.low[10]"}
    forward = by_limit["action.high[7]"]
    assert forward.effect == "clipped" and forward.value == 1.0 and forward.bound == BASE_MAX
    assert "action[7] = 1 is outside [-0.5, 0.5]" in forward.message and "clipped to 0.5 (saturation)" in forward.message


def test_the_base_arm_layers_commands_fit_the_bounds_unchanged():
    # The layer (before the safety layer in `eval --base-arm-layer` and in the far task's expert) commands the base at
    # most its 12.5 mm a step: 0.25 + 0.0125 / 0.05 = 0.5, the bound itself, so nothing of its base command is clipped.
    from vlastack.envs.robosuite_env import feature_names
    from vlastack.execution.base_arm_layer import BaseArmLayer

    rng = np.random.default_rng(0)
    wanted = {"action": np.zeros(11, np.float32)}
    split = BaseArmLayer(lambda observation, info: wanted["action"], feature_names("rs-reachfar-pandaomron"))
    spec = load_spec("robosuite_pandaomron")
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    seen = 0.0
    for step in range(300):
        wanted["action"] = rng.uniform(-1, 1, 11).astype(np.float32)
        wanted["action"][7:] = 0.0  # the expert's: base still, no turn, no torso
        hand = rng.uniform((-0.6, -0.3, 0.8), (0.4, 0.45, 1.3))
        mount = hand - np.array([rng.uniform(0.1, 1.1), rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.4)])  # in and out of reach
        obs = type("O", (), {"state": _state(hand, mount, rng.uniform(-0.3, 0.3))})()
        sent = split(obs, {"step": step})
        seen = max(seen, float(np.abs(sent[7:9]).max()))
        assert np.all(sent >= low) and np.all(sent <= high), sent
    assert seen == pytest.approx(BASE_MAX)  # it does drive at the bound


@pytest.mark.slow
@pytest.mark.parametrize("task", WHEELED)
def test_the_expert_succeeds_behind_the_spec_without_a_hold(task):
    need_robosuite()
    from vlastack.envs import make_env
    from vlastack.envs.experts import expert_for
    from vlastack.envs.rollout import rollout
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), image_size=16)
    actuator = SafeActuator(env, "robosuite_pandaomron")
    try:
        result = rollout(actuator, expert_for(task).act, seed=0, record=False)
        summary = actuator.summary()
    finally:
        actuator.close()
    assert result.success and summary["steps_held"] == 0
    # What fires: the 1 m/s speed limit on the expert's saturated diagonal moves (and the 20 m/s^2 acceleration limit);
    # the far task's base commands (the base-arm layer's, at most 0.5) are never clipped.
    assert summary["by_limit"]["motion.max_speed_m_s"] > 0
    assert set(summary["by_limit"]) <= {"motion.max_speed_m_s", "motion.max_accel_m_s2"}, summary["by_limit"]
