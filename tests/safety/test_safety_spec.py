"""Loading safety specs: presets, JSON round trips, and bad specs rejected with the field named."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from vlastack.errors import ConfigError
from vlastack.safety import METAWORLD_SAWYER, SpecError, load_spec, save_spec, spec_from_dict, spec_to_dict
from vlastack.safety.spec import Box, MotionLimits


def good() -> dict:
    return copy.deepcopy(spec_to_dict(METAWORLD_SAWYER))


def test_preset_by_name_and_its_properties():
    spec = load_spec("metaworld_sawyer")
    assert spec is METAWORLD_SAWYER
    assert spec.action.dim == 4 and spec.gripper.action_index == 3
    assert spec.stop_within_limits  # holds are inside every limit for the Meta-World preset


def test_json_round_trip(tmp_path):
    path = save_spec(METAWORLD_SAWYER, tmp_path / "s.json")
    assert load_spec(path) == METAWORLD_SAWYER
    assert load_spec(str(path)) == METAWORLD_SAWYER
    assert spec_from_dict(json.loads(path.read_text())) == METAWORLD_SAWYER


def test_shipped_json_file_matches_the_python_preset():
    text = resources.files("vlastack.safety").joinpath("specs/metaworld_sawyer.json").read_text()
    assert spec_from_dict(json.loads(text)) == METAWORLD_SAWYER


def test_unknown_preset_name_lists_valid_ones():
    with pytest.raises(ConfigError, match="metaworld_sawyer"):
        load_spec("metaworld_sawyr")


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_spec(bad)


def _mutate(path: str, value=None, delete: bool = False) -> dict:
    data = good()
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if delete:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    "path, value, field, words",
    [
        ("workspace.low", [0.6, 0.38, 0.045], "workspace.low[0]", "above the upper bound"),
        ("workspace.low", [-0.45, 0.965, 0.045], "workspace.low[1]", "equal to the upper bound"),
        ("motion.max_speed_m_s", -1.0, "motion.max_speed_m_s", "positive"),
        ("motion.max_accel_m_s2", 0.0, "motion.max_accel_m_s2", "positive"),
        ("motion.max_jerk_m_s3", float("inf"), "motion.max_jerk_m_s3", "finite"),
        ("control_period_s", -0.0125, "control_period_s", "positive"),
        ("watchdog_s", -1, "watchdog_s", "negative"),
        ("gripper.max_force_n", -5.0, "gripper.max_force_n", "positive"),
        ("gripper.close_sign", 2, "gripper.close_sign", "1 or -1"),
        ("gripper.action_index", 1, "gripper.action_index", "translation"),
        ("gripper.action_index", 9, "gripper.action_index", "outside"),
        ("gripper.initial_command", 3.0, "gripper.initial_command", "outside the action range"),
        ("gripper.require_touch", "yes", "gripper.require_touch", "true or false"),
        ("action.high", [1.0, 1.0, 1.0], "action.high", "expected 4 numbers"),
        ("action.low", [0.5, -1.0, -1.0, -1.0], "action.low[0]", "contain 0"),
        ("action.translation_dims", [0, 0, 1], "action.translation_dims", "distinct"),
        ("action.translation_dims", [0, 1, 7], "action.translation_dims[2]", "outside"),
        ("action.translation_scale_m", 0.0, "action.translation_scale_m", "positive"),
        ("action.translation_scale_m", "0.01", "action.translation_scale_m", "expected a number"),
        ("state_position_dims", [0, 1], "state_position_dims", "3 integer indices"),
        ("motion.max_speed_m_s", True, "motion.max_speed_m_s", "expected a number"),
        ("name", "", "name", "non-empty"),
        ("keep_out", [{"low": [0, 0, 0], "high": [0.1, -0.1, 0.1]}], "keep_out[0].low[1]", "above the upper bound"),
        ("keep_out", {"low": [0, 0, 0]}, "keep_out", "expected a list"),
        ("workspace", [1, 2], "workspace", "expected an object"),
        ("tracking.slow_faces", ["z+", "top"], "tracking.slow_faces", "faces out of"),
        ("tracking.slow_speed_m_s", 0.0, "tracking.slow_speed_m_s", "must be positive when slow_within_m"),
        ("tracking.max_lead_m", -0.1, "tracking.max_lead_m", "positive"),
    ],
)
def test_impossible_values_are_rejected_naming_the_field(path, value, field, words):
    with pytest.raises(SpecError, match=words) as info:
        spec_from_dict(_mutate(path, value))
    assert info.value.field == field
    assert repr(field) in str(info.value)


@pytest.mark.parametrize("path", ["motion.max_jerk_m_s3", "workspace.high", "gripper", "watchdog_s", "action.translation_scale_m"])
def test_missing_fields_are_rejected_naming_the_field(path):
    with pytest.raises(SpecError, match="missing") as info:
        spec_from_dict(_mutate(path, delete=True))
    assert info.value.field == path


def test_unknown_keys_are_rejected_with_a_suggestion():
    data = good()
    data["motion"]["max_sped_m_s"] = 1.0
    with pytest.raises(SpecError, match="did you mean 'max_speed_m_s'") as info:
        spec_from_dict(data)
    assert info.value.field == "motion.max_sped_m_s"
    data = good()
    data["keep_out"] = [{"low": [0, 0, 0], "high": [1, 1, 1], "colour": "red"}]
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    assert info.value.field == "keep_out[0].colour"


def test_gripper_may_be_null_and_keep_out_may_be_left_out():
    data = good()
    data["gripper"] = None
    del data["keep_out"]
    spec = spec_from_dict(data)
    assert spec.gripper is None and spec.keep_out == ()


def test_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(_mutate("motion.max_speed_m_s", -2)))
    with pytest.raises(SpecError, match="arm.json") as info:
        load_spec(path)
    assert info.value.field == "motion.max_speed_m_s"


def test_python_construction_validates_too():
    with pytest.raises(SpecError, match="low"):
        Box((0, 0, 0), (1, -1, 1))
    with pytest.raises(SpecError, match="max_speed_m_s"):
        MotionLimits(-1.0, 1.0, 1.0)
