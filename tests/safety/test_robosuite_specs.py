"""The robosuite arms' safety specs (robosuite_<arm>): shipped JSON, fit to each embodiment, and what they do
to an action (no simulator: the layer alone, with the state a robosuite arm reports)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from vlastack import embodiments as E
from vlastack.safety import SafetyLayer, load_spec, spec_from_dict
from vlastack.safety.presets_robosuite import LIFT_TABLE, ROBOSUITE_ARM_SPECS, WRIST_FLOOR_N, WRIST_PEAK


@pytest.mark.parametrize("arm", sorted(ROBOSUITE_ARM_SPECS))
def test_shipped_json_matches_the_preset_and_fits_the_embodiment(arm):
    spec = load_spec(f"robosuite_{arm}")
    text = resources.files("vlastack.safety").joinpath(f"specs/robosuite_{arm}.json").read_text()
    assert spec_from_dict(json.loads(text)) == spec
    assert spec.stop_within_limits
    emb = E.get(f"robosuite_{arm}")
    assert emb.safety_spec == spec.name
    assert spec.action.dim == emb.native_dim and spec.action.translation_dims == emb.translation_dims
    assert spec.gripper.action_index == emb.gripper_dim and spec.gripper.close_sign == emb.gripper_close_sign
    assert spec.control_period_s == emb.control_period_s
    assert spec.gripper.max_force_n >= max(2 * WRIST_PEAK[arm], WRIST_FLOOR_N) - 0.5


def test_every_embodiment_with_a_spec_fits_it():
    for emb in (E.get(i) for i in E.ids()):
        if emb.safety_spec is None:
            continue
        spec = load_spec(emb.safety_spec)
        assert spec.action.dim == emb.native_dim, emb.id
        assert spec.gripper.action_index == emb.gripper_dim, emb.id


def _state(x: float, y: float, z: float) -> np.ndarray:
    """A robosuite arm's state: hand position (m), orientation quaternion x, y, z, w, gripper opening."""
    return np.array([x, y, z, 0.0, 1.0, 0.0, 0.0, 1.0], dtype=np.float32)


def test_the_goal_is_kept_above_the_table_top():
    layer = SafetyLayer("robosuite_panda")
    decision = layer.filter(np.array([0, 0, -1.0, 0, 0, 0, 1.0], np.float32), _state(0.0, 0.0, 0.82), np.zeros(6))
    # The controller's goal is the hand plus 5 cm per unit: -1 would put it 3 cm into the table.
    assert decision.action[2] == pytest.approx(-(0.82 - LIFT_TABLE.low[2]) / 0.05, abs=1e-3)
    assert decision.action[6] == 1.0 and decision.interventions[0].limit == "workspace.low[2]"


def test_diagonal_moves_are_cut_to_the_speed_limit_and_rotation_and_grip_pass():
    layer = SafetyLayer("robosuite_ur5e")
    layer.filter(np.zeros(7, np.float32), _state(-0.1, 0.0, 1.0), np.zeros(6))  # at rest
    proposed = np.array([1.0, 1.0, 1.0, 0.3, -0.2, 0.1, -1.0], np.float32)
    decision = layer.filter(proposed, _state(-0.1, 0.0, 1.0), np.zeros(6))
    np.testing.assert_allclose(np.linalg.norm(decision.action[:3]), 1.0, rtol=1e-4)  # 1 m/s of goal offset at 20 Hz
    np.testing.assert_allclose(decision.action[:3], proposed[:3] / np.sqrt(3), rtol=1e-4)  # same direction
    np.testing.assert_array_equal(decision.action[3:], proposed[3:])


def test_a_wrist_overload_stops_the_gripper_closing():
    spec = load_spec("robosuite_panda")
    layer = SafetyLayer(spec)
    layer.filter(np.array([0, 0, 0, 0, 0, 0, 1.0], np.float32), _state(0.0, 0.0, 0.9), np.zeros(6))
    overload = np.array([0.0, 0.0, spec.gripper.max_force_n + 20.0, 0.0, 0.0, 0.0])  # wrist force along z, N
    decision = layer.filter(np.array([0, 0, 0, 0, 0, 0, 1.0], np.float32), _state(0.0, 0.0, 0.9), overload)
    assert decision.action[6] == pytest.approx(1.0 - spec.gripper.backoff_per_n * 20.0)
    assert not layer.filter(np.array([0, 0, 0, 0, 0, 0, 1.0], np.float32), _state(0.0, 0.0, 0.9), np.zeros(6)).interventions
